"""Widget API controllers: parse, authorize (origin, session, throttle, challenge), delegate."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.di import Provide
from litestar.params import JSONBody, QueryParameter

from messenger.conversations.schemas import message_out
from messenger.i18n import N_
from messenger.widget import schemas
from messenger.widget.deps import (
    SESSION_ERRORS,
    AnyRequest,
    CallsDep,
    ChallengesDep,
    LinksDep,
    Service,
    SettingsDep,
    ThrottleDep,
    VisitsDep,
    errors,
    idempotent_repeat,
    provide_service,
)
from messenger.widget.service import Sent

JSON_BODY_LIMIT = 64 * 1024


def _created(sent: Sent, links: LinksDep) -> Response[Any]:
    return Response(message_out(sent.message, links), status_code=201 if sent.created else 200)


class WidgetController(Controller):
    path = "/api/widget"
    tags = ["widget"]
    dependencies = {
        "service": Provide(provide_service, sync_to_thread=False),
    }
    request_max_body_size = JSON_BODY_LIMIT
    security = [{"session": []}]

    @post(
        "/bootstrap",
        summary="Start or restore a widget session",
        description=(
            "Checks the origin against the inbox's allowed domains, throttles per IP and per "
            "inbox, may answer 428 with a proof-of-work challenge. A valid session token of "
            "this inbox restores the visitor and conversation; any other starts a new "
            "session. Writes no visitor or conversation row. With `identity` (a signed "
            "identity: INTEGRATIONS.md §1, docs/integrations.md) the session belongs to the "
            "inbox's contact with that identifier, from any browser; a wrong hash is 401 "
            "`identity_invalid` (nothing written), and an inbox requiring identities answers "
            "a bootstrap without one 401 `identity_required`."
        ),
        status_code=200,
        security=[],
        responses=errors(401, 403, 422, 428, 429),
    )
    async def bootstrap(
        self, request: AnyRequest, calls: CallsDep, data: JSONBody[schemas.BootstrapRequest]
    ) -> schemas.BootstrapResponse:
        return await calls.bootstrap(request, data)

    @post(
        "/messages",
        summary="Send a visitor message (idempotent by client_msg_id)",
        description="201 with the new Message; 200 with the stored one when client_msg_id repeats.",
        responses={**errors(*SESSION_ERRORS), **idempotent_repeat()},
    )
    async def send(
        self, request: AnyRequest, calls: CallsDep, data: JSONBody[schemas.SendRequest]
    ) -> Response[schemas.MessageOut]:
        out, created = await calls.send(request, data)
        return Response(out, status_code=201 if created else 200)

    @get(
        "/messages",
        summary="Poll: messages after an id",
        cache=False,
        responses=errors(*SESSION_ERRORS),
    )
    async def poll(
        self,
        request: AnyRequest,
        calls: CallsDep,
        after: Annotated[
            int, QueryParameter(ge=0, le=2**62, description="Last message id seen")
        ] = 0,
    ) -> schemas.MessagesResponse:
        return await calls.poll(request, after)

    @post(
        "/stream/ticket",
        summary="A single-use, one-minute ticket for the SSE stream URL",
        responses=errors(*SESSION_ERRORS),
    )
    async def stream_ticket(self, request: AnyRequest, calls: CallsDep) -> schemas.TicketResponse:
        return await calls.ticket(request)

    @post(
        "/typing",
        summary="The visitor is (not) typing",
        status_code=204,
        responses=errors(*SESSION_ERRORS),
    )
    async def typing(
        self, request: AnyRequest, calls: CallsDep, data: JSONBody[schemas.TypingRequest]
    ) -> None:
        await calls.typing(request, data.typing)

    @post(
        "/read",
        summary="The visitor has read operator messages up to an id",
        status_code=200,
        responses=errors(*SESSION_ERRORS),
    )
    async def read(
        self, request: AnyRequest, calls: CallsDep, data: JSONBody[schemas.ReadRequest]
    ) -> schemas.ReadResponse:
        return await calls.read(request, data.up_to_id)

    @post(
        "/offline",
        summary="The offline form: becomes a conversation with the contact",
        responses={**errors(*SESSION_ERRORS, 428), **idempotent_repeat()},
    )
    async def offline(
        self,
        settings: SettingsDep,
        service: Service,
        throttle: ThrottleDep,
        challenges: ChallengesDep,
        links: LinksDep,
        request: AnyRequest,
        visits: VisitsDep,
        data: JSONBody[schemas.OfflineRequest],
    ) -> Response[schemas.MessageOut]:
        visit = await visits.check(request, throttle.send)
        await challenges.demand(
            count=await throttle.count_offline_form(visit.caller.ip),
            threshold=settings.widget_challenge_threshold,
            solution=data.challenge_solution,
            detail=N_("Too many forms from this address: solve the challenge and retry."),
        )
        sent = await service.offline(visit.inbox, visit.session, data, visit.caller)
        return _created(sent, links)
