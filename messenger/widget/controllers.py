"""Widget API controllers: parse, authorize (origin, session, throttle, challenge), delegate."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody, QueryParameter

from messenger.conversations.schemas import conversation_out, message_out
from messenger.i18n import N_
from messenger.visitors.service import VisitorService
from messenger.widget import schemas
from messenger.widget.bootstrap import bootstrap
from messenger.widget.deps import (
    SESSION_ERRORS,
    AnyRequest,
    ChallengesDep,
    GeoDep,
    LinksDep,
    PresenceDep,
    Service,
    SettingsDep,
    SignerDep,
    ThrottleDep,
    TicketsDep,
    VisitDep,
    caller_of,
    errors,
    idempotent_repeat,
    provide_service,
    provide_visit,
)
from messenger.widget.security import check_origin
from messenger.widget.service import Sent
from messenger.widget.sessions import TICKET_TTL_MS

JSON_BODY_LIMIT = 64 * 1024


def _created(sent: Sent, links: LinksDep) -> Response[Any]:
    return Response(message_out(sent.message, links), status_code=201 if sent.created else 200)


class WidgetController(Controller):
    path = "/api/widget"
    tags = ["widget"]
    dependencies = {
        "service": Provide(provide_service, sync_to_thread=False),
        "visit": Provide(provide_visit),
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
            "session. Writes no visitor or conversation row."
        ),
        status_code=200,
        security=[],
        responses=errors(403, 422, 428, 429),
    )
    async def bootstrap(
        self,
        request: AnyRequest,
        settings: SettingsDep,
        service: Service,
        signer: SignerDep,
        tickets: TicketsDep,
        links: LinksDep,
        throttle: ThrottleDep,
        challenges: ChallengesDep,
        presence: PresenceDep,
        geo: GeoDep,
        data: JSONBody[schemas.BootstrapRequest],
    ) -> schemas.BootstrapResponse:
        inbox = await service.inbox_by_token(data.widget_token)
        if inbox is None:
            raise NotFoundException(N_("Unknown widget token."))
        caller = caller_of(request, settings)
        check_origin(request, inbox, caller.ip)
        await throttle.bootstrap(caller.ip)
        session = signer.verify(data.session_token)
        if session is not None and session.inbox_id != inbox.id:
            session = None  # another inbox's token: a new session, never someone else's
        if session is None:
            # Past the per-inbox bucket a new session solves the challenge (never a 429 for
            # the whole site); a returning visitor is neither counted nor refused there.
            await challenges.demand(
                count=await throttle.count_new_session(caller.ip),
                threshold=settings.widget_challenge_threshold,
                over=await throttle.new_session_over_inbox_limit(inbox.id),
                solution=data.challenge_solution,
                detail=N_("Too many new chats: solve the challenge and retry."),
            )
        return await bootstrap(
            service,
            VisitorService(service.db, settings, geo),
            settings=settings,
            presence=presence,
            signer=signer,
            tickets=tickets,
            links=links,
            inbox=inbox,
            request=data,
            caller=caller,
            session=session,
        )

    @post(
        "/messages",
        summary="Send a visitor message (idempotent by client_msg_id)",
        description="201 with the new Message; 200 with the stored one when client_msg_id repeats.",
        responses={**errors(*SESSION_ERRORS), **idempotent_repeat()},
    )
    async def send(
        self,
        service: Service,
        throttle: ThrottleDep,
        links: LinksDep,
        visit: VisitDep,
        data: JSONBody[schemas.SendRequest],
    ) -> Response[schemas.MessageOut]:
        await throttle.send(visit.caller.ip, str(visit.session.visitor_id))
        sent = await service.send(visit.inbox, visit.session, data, visit.caller)
        return _created(sent, links)

    @get(
        "/messages",
        summary="Poll: messages after an id",
        cache=False,
        responses=errors(*SESSION_ERRORS),
    )
    async def poll(
        self,
        service: Service,
        throttle: ThrottleDep,
        links: LinksDep,
        visit: VisitDep,
        after: Annotated[
            int, QueryParameter(ge=0, le=2**62, description="Last message id seen")
        ] = 0,
    ) -> schemas.MessagesResponse:
        await throttle.poll(str(visit.session.visitor_id))
        conversation, messages = await service.poll(visit.inbox, visit.session, after)
        return schemas.MessagesResponse(
            messages=[message_out(m, links) for m in messages],
            conversation=conversation_out(conversation),
        )

    @post(
        "/stream/ticket",
        summary="A single-use, one-minute ticket for the SSE stream URL",
        responses=errors(*SESSION_ERRORS),
    )
    async def stream_ticket(
        self, tickets: TicketsDep, throttle: ThrottleDep, visit: VisitDep
    ) -> schemas.TicketResponse:
        await throttle.ticket(str(visit.session.visitor_id))
        ticket = await tickets.issue(visit.session)
        return schemas.TicketResponse(ticket=ticket, expires_in=TICKET_TTL_MS // 1000)

    @post(
        "/typing",
        summary="The visitor is (not) typing",
        status_code=204,
        responses=errors(*SESSION_ERRORS),
    )
    async def typing(
        self,
        service: Service,
        throttle: ThrottleDep,
        visit: VisitDep,
        data: JSONBody[schemas.TypingRequest],
    ) -> None:
        await throttle.typing(str(visit.session.visitor_id))
        await service.typing(visit.inbox, visit.session, data.typing)

    @post(
        "/read",
        summary="The visitor has read operator messages up to an id",
        status_code=200,
        responses=errors(*SESSION_ERRORS),
    )
    async def read(
        self,
        service: Service,
        throttle: ThrottleDep,
        visit: VisitDep,
        data: JSONBody[schemas.ReadRequest],
    ) -> schemas.ReadResponse:
        await throttle.read(str(visit.session.visitor_id))
        return schemas.ReadResponse(
            up_to_id=await service.read(visit.inbox, visit.session, data.up_to_id)
        )

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
        visit: VisitDep,
        data: JSONBody[schemas.OfflineRequest],
    ) -> Response[schemas.MessageOut]:
        await throttle.send(visit.caller.ip, str(visit.session.visitor_id))
        await challenges.demand(
            count=await throttle.count_offline_form(visit.caller.ip),
            threshold=settings.widget_challenge_threshold,
            solution=data.challenge_solution,
            detail=N_("Too many forms from this address: solve the challenge and retry."),
        )
        sent = await service.offline(visit.inbox, visit.session, data, visit.caller)
        return _created(sent, links)
