"""The operator's live stream: list changes, and the open conversation's messages,
receipts and typing, rendered as HTML fragments for htmx's SSE extension.

Nothing lost on a reconnect (DESIGN.md "Realtime"), the visitor stream's mechanism
(:mod:`messenger.widget.stream`): every message event of the open conversation carries its
message id as the SSE ``id:``; a reconnecting page names the last one (``Last-Event-ID``,
or ``?last_event_id=`` since htmx's extension may open a new EventSource without the
header; the page's first connection names the newest message it rendered), and the stream
replays from PostgreSQL every message of that conversation after it (any process can serve
the reconnect), then goes live, dropping ids it already sent. Only the open conversation's
messages carry ids: ids of *one* conversation commit in order (``ConversationService.append``),
ids across conversations do not, so "after id N" is only sound within one. The replay is
staff-only and scoped: the conversation is re-read and :func:`can_see` checked on every
replay (notes included, as in the staff history).

While the stream is open the operator counts as online (presence in Redis, refreshed on
every heartbeat). Access is re-read on every event (an event is shown only if the fresh
user may see it) and on every heartbeat, at least every ``MESSENGER_STAFF_ACCESS_CHECK_SECONDS``
(3 s): a deactivation, a password change (new session epoch), or a change of role or
branches closes the stream (the page reconnects with its new scope). The engine is
:class:`LiveStream`.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, cast
from uuid import UUID

from litestar import Controller, get
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter, SkipValidation
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import ServerSentEvent, ServerSentEventMessage
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from messenger.config import Settings
from messenger.conversations.rules import can_see, in_scope
from messenger.conversations.service import ConversationService
from messenger.conversations.timeline import (
    MAX_PAGE,
    SHOWN_WITH,
    newest_message_id,
    staff_messages,
)
from messenger.dashboard.deps import AnyRequest
from messenger.dashboard.notices import notice, wants_notice
from messenger.dashboard.sessions import SESSION_EPOCH_KEY, access_of, provide_current_user
from messenger.db.models import Conversation, Message, MessageSender, User
from messenger.presence import DEFAULT_TTL_SECONDS, Presence
from messenger.realtime.events import Envelope, staff_all_channel, staff_branch_channel
from messenger.realtime.stream import LiveStream, to_completion
from messenger.widget.stream import MAX_EVENT_ID, parse_last_event_id

MAX_STREAM_SECONDS = 60 * 60
PRESENCE_REFRESH_SECONDS = 15.0
RECEIPT_TICKS_LIMIT = 100
#: Messages of the open conversation one catch-up may replay (the rest come on the next
#: one, the cursor moved on); ids remembered as sent.
CATCH_UP_LIMIT = 5 * MAX_PAGE
SENT_IDS = 1024

Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class StaffStreamSource:
    """What one operator's stream sends: a list refresh for every event in scope, and
    fragments for the conversation they have open."""

    def __init__(
        self,
        user: User,
        epoch: int | None,
        open_id: UUID | None,
        *,
        after: int | None = None,
        sessions: Sessions,
        presence: Presence,
        templates: JinjaTemplateEngine,
    ) -> None:
        self._user = user
        self._epoch = epoch
        self._open_id = open_id
        self._sessions = sessions
        self._presence = presence
        self._templates = templates
        self._branch_ids = sorted(user.branch_ids)
        self._access = access_of(user)
        self._revoked = False
        self._connection = secrets.token_hex(8)
        # Catch-up state: the open conversation's messages sent (bounded, to drop duplicates),
        # the replay cursor (the client's last id; None: the newest when the stream opens),
        # the scope's last activity seen.
        self._recent: deque[int] = deque(maxlen=SENT_IDS)
        self._seen: set[int] = set()
        self._cursor = after
        self._started = False
        self._activity: Any = None
        self._live_since_catch_up = False

    def _remember(self, message_id: int) -> bool:
        """True the first time ``message_id`` is seen (the visitor stream's rule)."""
        if message_id in self._seen:
            return False
        if len(self._recent) == self._recent.maxlen:
            self._seen.discard(self._recent[0])
        self._recent.append(message_id)
        self._seen.add(message_id)
        return True

    def _render(self, name: str, **context: Any) -> str:
        return self._templates.get_template(name).render(**context)

    def _visible(self, envelope: Envelope) -> bool:
        return envelope.audience != "visitor" and in_scope(self._user, envelope.branch_id)

    async def catch_up(self) -> AsyncIterator[ServerSentEventMessage]:
        """First call: presence, and the replay after the client's last id (none named: the
        baseline, the newest message). Later calls (on the engine's timer): what a lost live
        event would have brought: a list refresh when the scope's last activity moved, the
        open conversation's messages after the cursor not sent yet."""
        first = not self._started
        self._started = True
        if first:
            await self._presence.touch(
                self._user.id, self._branch_ids, DEFAULT_TTL_SECONDS, self._connection
            )
        async with self._sessions() as db:
            activity_query = select(func.max(Conversation.last_activity_at))
            if not self._user.is_admin:
                activity_query = activity_query.where(Conversation.branch_id.in_(self._branch_ids))
            activity = await db.scalar(activity_query)
            fragments: list[ServerSentEventMessage] = []
            if self._open_id is not None:
                if self._cursor is None:
                    self._cursor = await newest_message_id(db, self._open_id)
                else:
                    fragments = await self._replay(db, self._open_id)
        # A live event since the last read already refreshed the list.
        changed = not first and activity != self._activity and not self._live_since_catch_up
        self._activity = activity
        self._live_since_catch_up = False
        if changed or fragments:
            yield ServerSentEventMessage(event="list", data="1")
        for fragment in fragments:
            yield fragment

    async def _replay(self, db: AsyncSession, open_id: UUID) -> list[ServerSentEventMessage]:
        """The open conversation's messages after the cursor, oldest first, in pages (as the
        visitor stream replays); nothing when the user may no longer see the conversation."""
        fragments: list[ServerSentEventMessage] = []
        conversation: Conversation | None = None
        read = 0
        while read < CATCH_UP_LIMIT:
            page = await staff_messages(db, open_id, after_id=self._cursor or 0, limit=MAX_PAGE)
            if not page:
                break
            if conversation is None:
                conversation = await db.scalar(
                    select(Conversation)
                    .where(Conversation.id == open_id)
                    .options(selectinload(Conversation.visitor))  # the fragments name the visitor
                )
                if conversation is None or not can_see(self._user, conversation):
                    return []
            read += len(page)
            self._cursor = max(self._cursor or 0, page[-1].id)
            fragments.extend(
                self._message_event(message, conversation)
                for message in page
                if self._remember(message.id)
            )
            if len(page) < MAX_PAGE:
                break
        return fragments

    def _message_event(
        self, message: Message, conversation: Conversation
    ) -> ServerSentEventMessage:
        html = self._render(
            "dashboard/partials/message.html", message=message, conversation=conversation
        )
        # The id is the message id, as on the visitor stream: what Last-Event-ID names.
        return ServerSentEventMessage(event="message", data=html, id=str(message.id))

    async def _still_allowed(self) -> bool:
        """Re-read the user: False (for good) once deactivated, signed out by a new password,
        or given another role or other branches; the user in scope is the fresh one."""
        if self._revoked:
            return False
        fresh = await to_completion(self._fresh_user())
        if (
            fresh is None
            or not fresh.is_active
            or fresh.session_epoch != self._epoch
            or access_of(fresh) != self._access
        ):
            self._revoked = True
            return False
        self._user = fresh
        return True

    async def _fresh_user(self) -> User | None:
        async with self._sessions() as db:
            fresh: User | None = await db.scalar(
                # Role and branches decide the scope: loaded with the user.
                select(User).where(User.id == self._user.id).options(selectinload(User.branches))
            )
            return fresh

    async def on_event(self, envelope: Envelope) -> AsyncIterator[ServerSentEventMessage]:
        # Every event is weighed against the user as they are now; a withdrawn access shows
        # nothing more and ends the stream at the next beat (at most a few seconds away).
        if not self._visible(envelope) or not await self._still_allowed():
            return
        self._live_since_catch_up = True
        yield ServerSentEventMessage(event="list", data="1")
        moved_to = envelope.data.get("moved_to")
        if isinstance(moved_to, int) and not in_scope(self._user, moved_to):
            # Transferred out of this user's scope: its row leaves their list (issue 14).
            row = f'<li id="conv-{UUID(str(envelope.conversation_id))}" hx-swap-oob="delete"></li>'
            yield ServerSentEventMessage(event="gone", data=row)
        if wants_notice(envelope):  # a visitor wrote: a desktop notification, maybe
            notify = await to_completion(notice(self._sessions, self._user, envelope))
            if notify is not None:
                yield notify
        if self._open_id is None or envelope.conversation_id != str(self._open_id):
            return
        fragment = await to_completion(self._read_fragment(self._open_id, envelope))
        if fragment is not None:
            yield fragment

    async def _read_fragment(
        self, open_id: UUID, envelope: Envelope
    ) -> ServerSentEventMessage | None:
        async with self._sessions() as db:
            conversation = await db.scalar(
                select(Conversation)
                .where(Conversation.id == open_id)
                .options(selectinload(Conversation.visitor))  # the fragments name the visitor
            )
            if conversation is None:
                return None
            return await self._fragment(db, conversation, envelope)

    async def _fragment(
        self, db: AsyncSession, conversation: Conversation, envelope: Envelope
    ) -> ServerSentEventMessage | None:
        if envelope.event == "message" and envelope.id is not None:
            message = await db.scalar(
                select(Message).where(Message.id == envelope.id).options(*SHOWN_WITH)
            )
            if message is None or not self._remember(message.id):
                return None
            return self._message_event(message, conversation)
        if envelope.event == "receipt":
            up_to = int(envelope.data.get("up_to_id", 0))
            sender = (
                MessageSender.OPERATOR
                if envelope.data.get("by") == "visitor"
                else MessageSender.VISITOR
            )
            rows = await db.execute(
                select(Message)
                .where(
                    Message.conversation_id == conversation.id,
                    Message.id <= up_to,
                    Message.sender == sender,
                )
                .order_by(Message.id.desc())
                .limit(RECEIPT_TICKS_LIMIT)
            )
            html = "".join(
                self._render("dashboard/partials/ticks.html", message=m, oob=True)
                for m in rows.scalars()
            )
            return ServerSentEventMessage(event="receipt", data=html) if html else None
        if envelope.event == "typing" and envelope.data.get("sender") == "visitor":
            html = self._render(
                "dashboard/partials/typing.html", typing=bool(envelope.data.get("typing"))
            )
            return ServerSentEventMessage(event="typing", data=html)
        if envelope.event == "status":
            return ServerSentEventMessage(event="status", data="1")
        if envelope.event == "csat.submitted":  # the pane's rating refreshes itself
            return ServerSentEventMessage(event="csat", data="1")
        return None

    async def on_beat(self) -> bool:
        if not await self._still_allowed():
            return False
        await self._presence.touch(
            self._user.id, self._branch_ids, DEFAULT_TTL_SECONDS, self._connection
        )
        return True

    async def on_close(self) -> None:
        await self._presence.leave(self._user.id, self._branch_ids, self._connection)


def _last_event_id(header: str | None, query: int | None) -> int | None:
    """The visitor stream's parser; a page opened before ids were plain message ids sends
    ``msg-<id>``, read the same."""
    return parse_last_event_id((header or "").strip().removeprefix("msg-"), query)


class StaffStreamController(Controller):
    include_in_schema = False
    dependencies = {"current_user": Provide(provide_current_user)}

    @get("/dashboard/stream", name="staff_stream", cache=False)
    async def stream(
        self,
        request: AnyRequest,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        settings: NamedDependency[SkipValidation[Settings]],
        channels: NamedDependency[SkipValidation[ChannelsPlugin]],
        presence: NamedDependency[SkipValidation[Presence]],
        sessions: NamedDependency[SkipValidation[Sessions]],
        conversation: Annotated[UUID | None, QueryParameter()] = None,
        last_event_id: Annotated[int | None, QueryParameter(ge=0, le=MAX_EVENT_ID)] = None,
    ) -> ServerSentEvent:
        open_id: UUID | None = None
        if conversation is not None:
            # Out of scope is a 404, like every other staff view.
            open_id = (
                await ConversationService(session=db_session).get_for_staff(
                    conversation, current_user
                )
            ).id
        prefix = settings.redis_prefix
        names = (
            [staff_all_channel(prefix)]
            if current_user.is_admin
            else [staff_branch_channel(prefix, b) for b in sorted(current_user.branch_ids)]
        )
        source = StaffStreamSource(
            current_user,
            request.session.get(SESSION_EPOCH_KEY),
            open_id,
            after=_last_event_id(request.headers.get("last-event-id"), last_event_id),
            sessions=sessions,
            presence=presence,
            # Always the Jinja engine of create_app; Litestar types it as optional and untyped.
            templates=cast("JinjaTemplateEngine", request.app.template_engine),
        )
        live = LiveStream(
            channels,
            names,
            audience="staff",
            heartbeat_seconds=min(
                settings.stream_heartbeat_seconds,
                PRESENCE_REFRESH_SECONDS,
                settings.staff_access_check_seconds,
            ),
            max_seconds=MAX_STREAM_SECONDS,
            catch_up_every=settings.stream_catch_up_seconds,
        )
        return ServerSentEvent(
            live.events(source), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )
