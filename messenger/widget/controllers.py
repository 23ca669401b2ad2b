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
from litestar.params import FromPath, JSONBody, MultipartBody, QueryParameter, SkipValidation
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.client_ip import client_ip
from messenger.conversations.timeline import visitor_messages
from messenger.db.models import Inbox, MessageSender
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
        raise NotAuthorizedException("Missing, expired or invalid session token; bootstrap again.")
    inbox = await service.inbox_by_id(session.inbox_id)
    if inbox is None:
        raise NotFoundException("This chat no longer exists.")
    caller = caller_of(request, runtime)
    check_origin(request, inbox, caller.ip)
    return Visit(session=session, inbox=inbox, caller=caller)


async def provide_visit(request: AnyRequest, runtime: Runtime, service: Service) -> Visit:
    """Dependency of every session call: ``Authorization: Bearer <session_token>``."""
    return await _visit(request, runtime, service, runtime.signer.verify(bearer(request)))


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
        responses={},
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
            raise NotFoundException("Unknown widget token.")
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
                    "Too many new chats from this address: solve the challenge and retry."
                )
        return await service.bootstrap(inbox, data, caller, session)

    @post("/messages", summary="Send a visitor message (idempotent by client_msg_id)")
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

    @get("/messages", summary="Poll: messages after an id", cache=False)
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

    @post("/stream/ticket", summary="A single-use, one-minute ticket for the SSE stream URL")
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

    @post("/typing", summary="The visitor is (not) typing", status_code=204)
    async def typing(
        self, service: Service, visit: VisitDep, data: JSONBody[schemas.TypingRequest]
    ) -> None:
        await service.typing(visit.inbox, visit.session, data.typing)

    @post("/read", summary="The visitor has read operator messages up to an id", status_code=200)
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
            raise NotFoundException("This link has expired or is not valid.")
        attachment, content = await service.attachment_for_download(attachment_id)
        inbox = await service.inbox_by_id(attachment.inbox_id)
        if inbox is None:
            raise NotFoundException("This chat no longer exists.")
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

    @post("/offline", summary="The offline form: becomes a conversation with the contact")
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
                "Too many forms from this address: solve the challenge and retry."
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
    """Replay, then live events for this visitor only, deduplicated by message id."""
    channels = runtime.backends.channels
    visitor_key = str(visit.session.visitor_id)
    heartbeat = runtime.settings.stream_heartbeat_seconds
    recent: deque[int] = deque(maxlen=1024)
    seen: set[int] = set()
    last_id = start_after
    alchemy = request.app.state.alchemy_config

    def remember(message_id: int) -> bool:
        nonlocal last_id
        if message_id in seen:
            return False
        if len(recent) == recent.maxlen:
            seen.discard(recent[0])
        recent.append(message_id)
        seen.add(message_id)
        last_id = max(last_id, message_id)
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

    OPEN_STREAMS.labels(audience="visitor").inc()
    try:
        yield ServerSentEventMessage(comment="connected", data=None, retry=3000)
        operator_ids: list[int] = []
        for message in replay:
            if remember(message.id):
                yield as_event(message)
                if message.sender == MessageSender.OPERATOR.value:
                    operator_ids.append(message.id)
        if operator_ids and conversation_id is not None:
            await delivered(max(operator_ids), conversation_id)
        started = time.monotonic()
        caught_up = False
        while time.monotonic() - started < MAX_STREAM_SECONDS:
            raw = await subscriber.next_event(
                CATCH_UP_AFTER_SECONDS if not caught_up else heartbeat
            )
            if raw is None:
                if not caught_up:
                    caught_up = True
                    async for event in _catch_up(runtime, visit, alchemy, last_id, remember):
                        yield event
                yield ServerSentEventMessage(comment="keep-alive", data=None)
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


async def _catch_up(
    runtime: WidgetRuntime, visit: Visit, alchemy: Any, last_id: int, remember: Any
) -> AsyncIterator[ServerSentEventMessage]:
    """One extra read shortly after subscribing: a publish that raced the subscription is
    still delivered (from the database, by id)."""
    async with alchemy.get_session() as db:
        service = runtime.service(db)
        conversation = await service.current_conversation(visit.inbox.id, visit.session.visitor_id)
        if conversation is None:
            return
        for message in await visitor_messages(db, conversation.id, after_id=last_id):
            if remember(message.id):
                out = to_message_out(message, runtime.links)
                yield ServerSentEventMessage(
                    data=msgspec.json.encode(out).decode(), event="message", id=str(out.id)
                )
