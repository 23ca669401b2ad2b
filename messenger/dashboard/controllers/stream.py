"""The operator's live stream: list changes, and the open conversation's messages,
receipts and typing, rendered as HTML fragments for htmx's SSE extension.

While the stream is open the operator counts as online (presence in Redis, refreshed on
every heartbeat). Each heartbeat also re-reads the operator: a deactivation or a password
change (new session epoch) closes the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.service import ConversationService
from messenger.dashboard.deps import AnyRequest, apply_locale
from messenger.dashboard.sessions import SESSION_EPOCH_KEY, provide_current_user
from messenger.db.models import Conversation, Message, MessageSender, User
from messenger.metrics import OPEN_STREAMS
from messenger.presence import DEFAULT_TTL_SECONDS
from messenger.realtime.events import Envelope, decode, staff_all_channel, staff_branch_channel

MAX_STREAM_SECONDS = 60 * 60
PRESENCE_REFRESH_SECONDS = 15.0
RECEIPT_TICKS_LIMIT = 100
#: Clean-ups of closed streams still running (the set keeps a reference to each task).
_CLEAN_UPS: set[asyncio.Task[None]] = set()


class StaffStreamController(Controller):
    include_in_schema = False
    before_request = apply_locale
    dependencies = {"current_user": Provide(provide_current_user)}

    @get("/dashboard/stream", name="staff_stream", cache=False)
    async def stream(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        conversation: Annotated[UUID | None, QueryParameter()] = None,
    ) -> ServerSentEvent:
        open_id: UUID | None = None
        if conversation is not None:
            # Out of scope is a 404, like every other staff view.
            open_id = (
                await ConversationService(session=db_session).get_for_staff(
                    conversation, current_user
                )
            ).id
        widget = request.app.state.widget
        prefix = request.app.state.settings.redis_prefix
        channels = (
            [staff_all_channel(prefix)]
            if current_user.is_admin
            else [staff_branch_channel(prefix, b) for b in sorted(current_user.branch_ids)]
        )
        subscriber = await widget.backends.channels.subscribe(channels)
        epoch = request.session.get(SESSION_EPOCH_KEY)
        return ServerSentEvent(
            _events(request, current_user, epoch, subscriber, open_id),
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


async def _events(
    request: AnyRequest, user: User, epoch: int | None, subscriber: Any, open_id: UUID | None
) -> AsyncIterator[ServerSentEventMessage]:
    app = request.app
    widget = app.state.widget
    presence = widget.backends.presence
    alchemy = app.state.alchemy_config
    templates = app.template_engine
    branch_ids = sorted(user.branch_ids)
    heartbeat = min(app.state.settings.stream_heartbeat_seconds, PRESENCE_REFRESH_SECONDS)
    connection = secrets.token_hex(8)

    def render(name: str, **context: Any) -> str:
        return templates.get_template(name).render(**context)

    async def still_allowed() -> bool:
        async with alchemy.get_session() as db:
            fresh = await db.scalar(select(User).where(User.id == user.id))
        return fresh is not None and fresh.is_active and fresh.session_epoch == epoch

    async def fragments(envelope: Envelope) -> list[ServerSentEventMessage]:
        out = [ServerSentEventMessage(event="list", data="1")]
        if open_id is None or envelope.conversation_id != str(open_id):
            return out
        async with alchemy.get_session() as db:
            conversation = await db.get(Conversation, open_id)
            if conversation is None:
                return out
            if envelope.event == "message" and envelope.id is not None:
                message = await db.get(Message, envelope.id)
                if message is not None:
                    html = render(
                        "dashboard/partials/message.html",
                        message=message,
                        conversation=conversation,
                    )
                    out.append(
                        ServerSentEventMessage(event="message", data=html, id=f"msg-{message.id}")
                    )
            elif envelope.event == "receipt":
                up_to = int(envelope.data.get("up_to_id", 0))
                sender = (
                    MessageSender.OPERATOR
                    if envelope.data.get("by") == "visitor"
                    else MessageSender.VISITOR
                )
                rows = await db.execute(
                    select(Message)
                    .where(
                        Message.conversation_id == open_id,
                        Message.id <= up_to,
                        Message.sender == sender,
                    )
                    .order_by(Message.id.desc())
                    .limit(RECEIPT_TICKS_LIMIT)
                )
                html = "".join(
                    render("dashboard/partials/ticks.html", message=m, oob=True)
                    for m in rows.scalars()
                )
                if html:
                    out.append(ServerSentEventMessage(event="receipt", data=html))
            elif envelope.event == "typing" and envelope.data.get("sender") == "visitor":
                html = render(
                    "dashboard/partials/typing.html", typing=bool(envelope.data.get("typing"))
                )
                out.append(ServerSentEventMessage(event="typing", data=html))
            elif envelope.event == "status":
                out.append(ServerSentEventMessage(event="status", data="1"))
        return out

    def visible(envelope: Envelope) -> bool:
        return user.is_admin or (
            envelope.branch_id is not None and envelope.branch_id in user.branch_ids
        )

    OPEN_STREAMS.labels(audience="staff").inc()
    try:
        await presence.touch(user.id, branch_ids, DEFAULT_TTL_SECONDS, connection)
        yield ServerSentEventMessage(comment="connected", data=None, retry=3000)
        started = time.monotonic()
        last_check = started
        while time.monotonic() - started < MAX_STREAM_SECONDS:
            raw = await subscriber.next_event(heartbeat)
            if time.monotonic() - last_check >= heartbeat or raw is None:
                last_check = time.monotonic()
                if not await still_allowed():
                    return
                await presence.touch(user.id, branch_ids, DEFAULT_TTL_SECONDS, connection)
            if raw is None:
                yield ServerSentEventMessage(comment="keep-alive", data=None)
                continue
            envelope = decode(raw)
            if envelope.audience == "visitor" or not visible(envelope):
                continue
            for event in await fragments(envelope):
                yield event
    finally:
        OPEN_STREAMS.labels(audience="staff").dec()

        async def clean_up() -> None:
            with contextlib.suppress(Exception):
                await widget.backends.channels.unsubscribe(subscriber)
            with contextlib.suppress(Exception):
                await presence.leave(user.id, branch_ids, connection)

        # When the client goes away the stream is cancelled and every await here raises
        # CancelledError at once, so the clean-up runs as a task of its own that finishes
        # anyway: the operator leaves presence now, not when the TTL runs out.
        task = asyncio.get_running_loop().create_task(clean_up())
        _CLEAN_UPS.add(task)
        task.add_done_callback(_CLEAN_UPS.discard)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
