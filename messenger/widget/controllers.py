"""Widget API controllers: parse, authorize (origin, session, throttle, challenge), delegate."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, MultipartBody, QueryParameter, SkipValidation
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.client_ip import client_ip
from messenger.conversations.timeline import MAX_PAGE, visitor_messages
from messenger.db.models import Inbox, MessageSender
from messenger.i18n import N_
from messenger.metrics import OPEN_STREAMS
from messenger.realtime.events import decode, visitor_channel
from messenger.realtime.subscriber import StreamSubscriber
from messenger.widget import schemas
from messenger.widget.runtime import WidgetRuntime
from messenger.widget.security import check_origin
from messenger.widget.service import Caller, WidgetService, content_disposition, to_message_out
from messenger.widget.sessions import TICKET_TTL_MS, WidgetSession

JSON_BODY_LIMIT = 64 * 1024
UPLOAD_BODY_LIMIT = 101 * 1024 * 1024
MAX_STREAM_SECONDS = 30 * 60
CATCH_UP_AFTER_SECONDS = 2.0

AnyRequest = Request[Any, Any, Any]


def provide_runtime(request: AnyRequest) -> WidgetRuntime:
    return request.app.state.widget


def provide_service(runtime: Runtime, db_session: DB) -> WidgetService:
    return runtime.service(db_session)


def caller_of(request: AnyRequest, runtime: Runtime) -> Caller:
    return Caller(
        ip=client_ip(request, runtime.settings.trusted_proxies),
        user_agent=request.headers.get("user-agent"),
        accept_language=request.headers.get("accept-language"),
    )


def bearer(request: AnyRequest) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass(frozen=True, slots=True)
class Visit:
    """An authenticated widget call: the session, its inbox and who is calling."""

    session: WidgetSession
    inbox: Inbox
    caller: Caller


Runtime = NamedDependency[SkipValidation[WidgetRuntime]]
Service = NamedDependency[SkipValidation[WidgetService]]
VisitDep = NamedDependency[SkipValidation[Visit]]
DB = NamedDependency[SkipValidation[AsyncSession]]


async def _visit(
    request: AnyRequest,
    runtime: WidgetRuntime,
    service: WidgetService,
    session: WidgetSession | None,
) -> Visit:
    if session is None:
        raise NotAuthorizedException(
            N_("Missing, expired or invalid session token; bootstrap again.")
        )
    inbox = await service.inbox_by_id(session.inbox_id)
    if inbox is None:
        raise NotFoundException(N_("This chat no longer exists."))
    caller = caller_of(request, runtime)
    check_origin(request, inbox, caller.ip)
    return Visit(session=session, inbox=inbox, caller=caller)


async def provide_visit(request: AnyRequest, runtime: Runtime, service: Service) -> Visit:
    """Dependency of every session call: ``Authorization: Bearer <session_token>``."""
    return await _visit(request, runtime, service, runtime.signer.verify(bearer(request)))


_ERRORS = {
    400: "Malformed request (bad query parameter)",
    401: "Missing, expired or forged session token: bootstrap again",
    403: "origin_not_allowed: the page's Origin/Referer is not on the inbox's allowed domains",
    404: "Unknown widget token, messenger switched off, or not this session's resource",
    413: "Body or file too large",
    415: "File type not accepted",
    422: "Invalid body: unknown field, wrong type, value too long",
    428: "challenge_required: solve the proof-of-work in `challenge` and repeat",
    429: "throttled: see the Retry-After header and `retry_after`",
}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the errors a call can answer, all ``{"error", "detail", ...}``."""
    return {
        code: ResponseSpec(data_container=schemas.ErrorBody, description=_ERRORS[code])
        for code in (400, 404, *codes)
    }


SESSION_ERRORS = (401, 403, 422, 429)


def _created(model: Any, created: bool) -> Response[Any]:
    return Response(model, status_code=201 if created else 200)


class WidgetController(Controller):
    path = "/api/widget"
    tags = ["widget"]
    dependencies = {
        "runtime": Provide(provide_runtime, sync_to_thread=False),
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
        runtime: Runtime,
        service: Service,
        data: JSONBody[schemas.BootstrapRequest],
    ) -> schemas.BootstrapResponse:
        inbox = await service.inbox_by_token(data.widget_token)
        if inbox is None:
            raise NotFoundException(N_("Unknown widget token."))
        caller = caller_of(request, runtime)
        check_origin(request, inbox, caller.ip)
        await runtime.throttle.bootstrap(caller.ip, inbox.id)
        session = runtime.signer.verify(data.session_token)
        if session is not None and session.inbox_id != inbox.id:
            session = None  # another inbox's token: a new session, never someone else's
        if session is None:
            started = await runtime.throttle.count_new_session(caller.ip)
            threshold = runtime.settings.widget_challenge_threshold
            if started > threshold and not await runtime.challenges.redeem(data.challenge_solution):
                raise runtime.challenges.required(
                    N_("Too many new chats from this address: solve the challenge and retry.")
                )
        return await service.bootstrap(inbox, data, caller, session)

    @post(
        "/messages",
        summary="Send a visitor message (idempotent by client_msg_id)",
        description="201 with the new Message; 200 with the stored one when client_msg_id repeats.",
        responses=errors(*SESSION_ERRORS),
    )
    async def send(
        self,
        runtime: Runtime,
        service: Service,
        visit: VisitDep,
        data: JSONBody[schemas.SendRequest],
    ) -> Response[schemas.MessageOut]:
        await runtime.throttle.send(visit.caller.ip, str(visit.session.visitor_id))
        message, created = await service.send(visit.inbox, visit.session, data, visit.caller)
        return _created(to_message_out(message, runtime.links), created)

    @get(
        "/messages",
        summary="Poll: messages after an id",
        cache=False,
        responses=errors(*SESSION_ERRORS),
    )
    async def poll(
        self,
        runtime: Runtime,
        service: Service,
        visit: VisitDep,
        after: Annotated[
            int, QueryParameter(ge=0, le=2**62, description="Last message id seen")
        ] = 0,
    ) -> schemas.MessagesResponse:
        await runtime.throttle.poll(str(visit.session.visitor_id))
        return await service.poll(visit.inbox, visit.session, after)

    @post(
        "/stream/ticket",
        summary="A single-use, one-minute ticket for the SSE stream URL",
        responses=errors(*SESSION_ERRORS),
    )
    async def stream_ticket(self, runtime: Runtime, visit: VisitDep) -> schemas.TicketResponse:
        ticket = await runtime.tickets.issue(visit.session)
        return schemas.TicketResponse(ticket=ticket, expires_in=TICKET_TTL_MS // 1000)

    @get(
        "/stream",
        summary="Server-Sent Events: message, typing, receipt, status",
        description=(
            "Authenticate with `Authorization: Bearer <session_token>` or `?ticket=` (from "
            "bootstrap or /stream/ticket; single use). `Last-Event-ID` or `?last_event_id=` "
            "replays every message after that id first. Comment lines are heartbeats."
        ),
        security=[],
        cache=False,
        responses={
            200: ResponseSpec(
                data_container=str,
                media_type="text/event-stream",
                description=(
                    "Server-Sent Events: `message` (with `id:` = Message id, data = Message), "
                    "`typing`, `receipt`, `status`; comment lines are heartbeats."
                ),
            ),
            **errors(401, 403),
        },
    )
    async def stream(
        self,
        request: AnyRequest,
        runtime: Runtime,
        service: Service,
        db_session: DB,
        ticket: Annotated[str | None, QueryParameter(max_length=128)] = None,
        last_event_id: Annotated[int | None, QueryParameter(ge=0, le=2**62)] = None,
    ) -> ServerSentEvent:
        token = bearer(request)
        session = runtime.signer.verify(token) if token else await runtime.tickets.redeem(ticket)
        visit = await _visit(request, runtime, service, session)
        header_id = request.headers.get("last-event-id", "").strip()
        after = int(header_id) if header_id.isdigit() else last_event_id
        channels = runtime.backends.channels
        subscriber = await channels.subscribe(
            [visitor_channel(runtime.settings.redis_prefix, visit.session.visitor_id)]
        )
        try:
            # Subscribed first, then read what was missed: nothing falls in between.
            conversation = await service.current_conversation(
                visit.inbox.id, visit.session.visitor_id
            )
            replay = []
            if conversation is not None and after is not None:
                replay = await visitor_messages(db_session, conversation.id, after_id=after)
            elif conversation is not None:
                after = await service.last_message_id(conversation.id)
            replay_out = [to_message_out(m, runtime.links) for m in replay]
        except BaseException:
            await channels.unsubscribe(subscriber)
            raise
        events = _stream_events(
            request,
            runtime,
            visit,
            subscriber,
            replay_out,
            conversation.id if conversation else None,
            start_after=after or 0,
        )
        return ServerSentEvent(
            events,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @post(
        "/typing",
        summary="The visitor is (not) typing",
        status_code=204,
        responses=errors(*SESSION_ERRORS),
    )
    async def typing(
        self, service: Service, visit: VisitDep, data: JSONBody[schemas.TypingRequest]
    ) -> None:
        await service.typing(visit.inbox, visit.session, data.typing)

    @post(
        "/read",
        summary="The visitor has read operator messages up to an id",
        status_code=200,
        responses=errors(*SESSION_ERRORS),
    )
    async def read(
        self, service: Service, visit: VisitDep, data: JSONBody[schemas.ReadRequest]
    ) -> schemas.ReadResponse:
        return schemas.ReadResponse(
            up_to_id=await service.read(visit.inbox, visit.session, data.up_to_id)
        )

    @post(
        "/attachments",
        summary="Upload a file (multipart field `file`) when the inbox allows attachments",
        request_max_body_size=UPLOAD_BODY_LIMIT,
        status_code=201,
        responses=errors(*SESSION_ERRORS, 413, 415),
    )
    async def upload(
        self,
        runtime: Runtime,
        service: Service,
        visit: VisitDep,
        data: MultipartBody[UploadFile],
    ) -> schemas.UploadResponse:
        await runtime.throttle.send(visit.caller.ip, str(visit.session.visitor_id))
        content = await data.read()
        attachment = await service.upload(
            visit.inbox,
            visit.session,
            filename=data.filename or "file",
            content_type=data.content_type,
            data=content,
        )
        return schemas.UploadResponse(
            id=str(attachment.id),
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size_bytes,
        )

    @get(
        "/attachments/{attachment_id:uuid}",
        summary="Download an attachment (signed, short-lived link; always as a download)",
        security=[],
        media_type="application/octet-stream",
        responses=errors(403),
    )
    async def download(
        self,
        request: AnyRequest,
        runtime: Runtime,
        service: Service,
        attachment_id: FromPath[UUID],
        exp: Annotated[int, QueryParameter(ge=0)],
        sig: Annotated[str, QueryParameter(max_length=64)],
    ) -> Response[bytes]:
        if not runtime.links.verify(attachment_id, exp, sig):
            raise NotFoundException(N_("This link has expired or is not valid."))
        attachment, content = await service.attachment_for_download(attachment_id)
        inbox = await service.inbox_by_id(attachment.inbox_id)
        if inbox is None:
            raise NotFoundException(N_("This chat no longer exists."))
        check_origin(request, inbox, caller_of(request, runtime).ip)
        return Response(
            content,
            media_type="application/octet-stream"
            if attachment.content_type.startswith(("text/", "application/xml"))
            else attachment.content_type,
            headers={
                "Content-Disposition": content_disposition(attachment.filename),
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "Cache-Control": "private, max-age=300",
                "Cross-Origin-Resource-Policy": "cross-origin",
            },
        )

    @post(
        "/offline",
        summary="The offline form: becomes a conversation with the contact",
        responses=errors(*SESSION_ERRORS, 428),
    )
    async def offline(
        self,
        runtime: Runtime,
        service: Service,
        visit: VisitDep,
        data: JSONBody[schemas.OfflineRequest],
    ) -> Response[schemas.MessageOut]:
        await runtime.throttle.send(visit.caller.ip, str(visit.session.visitor_id))
        submitted = await runtime.throttle.count_offline_form(visit.caller.ip)
        if (
            submitted > runtime.settings.widget_challenge_threshold
            and not await runtime.challenges.redeem(data.challenge_solution)
        ):
            raise runtime.challenges.required(
                N_("Too many forms from this address: solve the challenge and retry.")
            )
        message, created = await service.offline(visit.inbox, visit.session, data, visit.caller)
        return _created(to_message_out(message, runtime.links), created)


async def _stream_events(
    request: AnyRequest,
    runtime: WidgetRuntime,
    visit: Visit,
    subscriber: StreamSubscriber,
    replay: list[schemas.MessageOut],
    conversation_id: UUID | None,
    *,
    start_after: int,
) -> AsyncIterator[ServerSentEventMessage]:
    """Replay (all of it, page by page), then live events for this visitor only,
    deduplicated by message id, with a heartbeat on a fixed schedule."""
    channels = runtime.backends.channels
    visitor_key = str(visit.session.visitor_id)
    heartbeat = runtime.settings.stream_heartbeat_seconds
    recent: deque[int] = deque(maxlen=1024)
    seen: set[int] = set()
    alchemy = request.app.state.alchemy_config

    def remember(message_id: int) -> bool:
        if message_id in seen:
            return False
        if len(recent) == recent.maxlen:
            seen.discard(recent[0])
        recent.append(message_id)
        seen.add(message_id)
        return True

    def as_event(message: schemas.MessageOut) -> ServerSentEventMessage:
        return ServerSentEventMessage(
            data=msgspec.json.encode(message).decode(), event="message", id=str(message.id)
        )

    async def delivered(up_to_id: int, conversation: UUID) -> None:
        async with alchemy.get_session() as db:
            service = runtime.service(db)
            current = await service.current_conversation(visit.inbox.id, visit.session.visitor_id)
            if current is not None and current.id == conversation:
                await service.deliver(current, up_to_id)

    async def from_database(
        after: int, first_page: list[schemas.MessageOut] | None = None
    ) -> AsyncIterator[ServerSentEventMessage]:
        """Every visible message after ``after``, page by page (fresh sessions: the request's
        session is closed once the response starts)."""
        page = first_page
        cursor = after
        while True:
            if page is None:
                page = await _page_after(runtime, visit, alchemy, cursor)
            operator_ids = []
            for message in page:
                cursor = max(cursor, message.id)
                if remember(message.id):
                    yield as_event(message)
                    if message.sender == MessageSender.OPERATOR.value:
                        operator_ids.append(message.id)
            if operator_ids:
                await delivered(max(operator_ids), UUID(page[-1].conversation_id))
            if len(page) < MAX_PAGE:
                return
            page = None

    OPEN_STREAMS.labels(audience="visitor").inc()
    try:
        yield ServerSentEventMessage(comment="connected", data=None, retry=3000)
        async for event in from_database(
            start_after, replay if conversation_id is not None else []
        ):
            yield event
        replayed_up_to = max([start_after, *recent])
        started = time.monotonic()
        next_beat = started + heartbeat
        catch_up_at: float | None = started + CATCH_UP_AFTER_SECONDS
        while time.monotonic() - started < MAX_STREAM_SECONDS:
            wake = min(next_beat, catch_up_at) if catch_up_at is not None else next_beat
            raw = await subscriber.next_event(max(0.0, wake - time.monotonic()))
            now = time.monotonic()
            if catch_up_at is not None and now >= catch_up_at:
                # One more read shortly after subscribing: a publish that raced the
                # subscription is still delivered (from the database, by id).
                catch_up_at = None
                async for event in from_database(replayed_up_to):
                    yield event
            if now >= next_beat:
                next_beat = now + heartbeat
                yield ServerSentEventMessage(comment="keep-alive", data=None)
            if raw is None:
                continue
            envelope = decode(raw)
            if envelope.visitor_id != visitor_key or envelope.audience == "staff":
                continue
            if envelope.event == "message":
                if (
                    envelope.id is None
                    or envelope.data.get("kind") == "note"
                    or not remember(envelope.id)
                ):
                    continue
                yield ServerSentEventMessage(
                    data=msgspec.json.encode(envelope.data).decode(),
                    event="message",
                    id=str(envelope.id),
                )
                if envelope.data.get("sender") == "operator" and envelope.conversation_id:
                    await delivered(envelope.id, UUID(envelope.conversation_id))
            else:
                yield ServerSentEventMessage(
                    data=msgspec.json.encode(envelope.data).decode(), event=envelope.event
                )
    finally:
        OPEN_STREAMS.labels(audience="visitor").dec()
        with contextlib.suppress(Exception):
            await asyncio.shield(channels.unsubscribe(subscriber))


async def _page_after(
    runtime: WidgetRuntime, visit: Visit, alchemy: Any, after: int
) -> list[schemas.MessageOut]:
    async with alchemy.get_session() as db:
        service = runtime.service(db)
        conversation = await service.current_conversation(visit.inbox.id, visit.session.visitor_id)
        if conversation is None:
            return []
        return [
            to_message_out(m, runtime.links)
            for m in await visitor_messages(db, conversation.id, after_id=after)
        ]
