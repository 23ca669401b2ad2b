"""The visitor's live stream: replay from the database by id, then live events for this
visitor only, deduplicated by message id (the engine is :class:`LiveStream`)."""

from __future__ import annotations

import logging
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, get
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter, SkipValidation
from litestar.response import ServerSentEvent, ServerSentEventMessage
from redis.exceptions import RedisError
from sqlalchemy import ColumnElement, Select, Text, any_, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.links import AttachmentLinks
from messenger.conversations.intake import current_conversation
from messenger.conversations.receipts import mark_delivered_to_visitor
from messenger.conversations.schemas import MessageOut, message_out
from messenger.conversations.timeline import (
    MAX_PAGE,
    VISITOR_KINDS,
    newest_message_id,
    visitor_messages,
)
from messenger.db.models import Conversation, Message, MessageSender
from messenger.realtime.events import Envelope, visitor_channel
from messenger.realtime.publisher import Publisher
from messenger.realtime.sse import LeanServerSentEvent
from messenger.realtime.stream import LiveStream, to_completion
from messenger.realtime.stream_clock import CatchUpCheck
from messenger.realtime.transaction import transaction
from messenger.widget.deps import (
    AnyRequest,
    LinksDep,
    SettingsDep,
    SignerDep,
    ThrottleDep,
    TicketsDep,
    Visit,
    VisitsDep,
    bearer,
    errors,
)
from messenger.widget.throttle import Throttle

log = logging.getLogger("messenger.widget.stream")
MAX_STREAM_SECONDS = 30 * 60
CATCH_UP_AGAIN_AFTER_SECONDS = 2.0
SEEN_IDS = 1024

Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]

#: The largest message id a client may name (ids are bigint; far beyond any real id).
MAX_EVENT_ID = 2**62
_EVENT_ID_DIGITS = len(str(MAX_EVENT_ID))


#: (inbox id, visitor id as text) -> the newest id a visitor may see in any of its
#: conversations there. Text, not ``UUID``: a tuple of an int and a str is not tracked by
#: the garbage collector, and the keys and answers of a lookup are alive while it waits
#: for the database (a lookup's ~500 tuples and UUIDs were promoted to the old generation
#: by the young collections that ran meanwhile; docs/performance.md, branch ``gcready``).
StreamKey = tuple[int, str]
NewestIds = Callable[[list[StreamKey]], Awaitable[dict[StreamKey, int]]]
_NEWEST: weakref.WeakKeyDictionary[Sessions, NewestIds] = weakref.WeakKeyDictionary()


def _newest(visitors: ColumnElement[bool]) -> Select[tuple[int, UUID, int]]:
    return (
        select(Conversation.inbox_id, Conversation.visitor_id, func.max(Message.id))
        .join(Message, Message.conversation_id == Conversation.id)
        .where(visitors, Message.kind.in_(VISITOR_KINDS))
        .group_by(Conversation.inbox_id, Conversation.visitor_id)
    )


#: On PostgreSQL the visitors go as one array parameter (``= ANY($1::UUID[])``): the text of
#: the statement is the same for any number of visitors, so it is prepared once per
#: connection, and the driver encodes the array in C. An ``IN`` of ~500 values was rendered
#: and bound value by value at every lookup (SQLAlchemy's expanding parameter: ~40 % of the
#: lookup's time, which ran in one go on the event loop, 2 lookups a second with 5,000
#: streams open), and prepared again for each new count of visitors.
_NEWEST_ANY = _newest(
    Conversation.visitor_id
    == any_(cast(bindparam("visitors", type_=ARRAY(Text)), ARRAY(PG_UUID(as_uuid=True))))
)


def newest_ids(sessions: Sessions) -> NewestIds:
    """The process's one lookup of "newest visible id" for many visitors (per database): the
    stream clock asks it for all the streams whose timed catch-up is due in the same tick,
    and only a stream that is behind reads its page (one query per tick for all streams
    instead of one transaction each). The same function for every stream of a database:
    the clock groups the streams by it."""
    newest = _NEWEST.get(sessions)
    if newest is None:

        async def fetch(keys: list[StreamKey]) -> dict[StreamKey, int]:
            visitors = list({visitor for _, visitor in keys})
            async with sessions() as db:
                # Core, not the ORM: plain rows, no ORM result machinery per lookup.
                connection = await db.connection()
                if connection.dialect.name == "postgresql":
                    result = await connection.execute(_NEWEST_ANY, {"visitors": visitors})
                else:
                    uuids = [UUID(visitor) for visitor in visitors]
                    result = await connection.execute(_newest(Conversation.visitor_id.in_(uuids)))
                rows = result.all()
            return {(inbox, str(visitor)): top for inbox, visitor, top in rows if top is not None}

        newest = _NEWEST[sessions] = fetch
    return newest


def parse_last_event_id(header: str | None, query: int | None = None) -> int | None:
    """The ``Last-Event-ID`` header when it is a message id (ASCII digits, at most
    :data:`MAX_EVENT_ID`), else the ``last_event_id`` query value. Anything else in the
    header (``²``, ``٣``, a 5,000-digit number, a sign, spaces inside) counts as absent:
    ``str.isdigit`` admits such characters and ``int()`` then fails or reads them."""
    text = (header or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= _EVENT_ID_DIGITS:
        value = int(text)
        if value <= MAX_EVENT_ID:
            return value
    return query


class VisitorStreamSource:
    """What one visitor's stream sends; remembers the ids sent to drop duplicates."""

    def __init__(
        self,
        visit: Visit,
        *,
        after: int | None,
        sessions: Sessions,
        publisher: Publisher,
        links: AttachmentLinks,
        throttle: Throttle,
    ) -> None:
        # Only what the stream needs of the visit, not the visit: its inbox (an ORM object
        # with its settings document) would stay in memory as long as the stream is open.
        self._inbox_id = visit.inbox.id
        self._visitor_id = visit.session.visitor_id
        self._ip = visit.caller.ip
        self._throttle = throttle
        self._stream_id = uuid.uuid4().hex
        self._cursor = after
        self._sessions = sessions
        # The process's lookup for this database, found once (the clock asks every 5 s).
        self._newest = newest_ids(sessions)
        self._publisher = publisher
        self._links = links
        self._visitor_key = str(visit.session.visitor_id)
        #: What the clock's lookup is told, kept while the cursor stays (one object per
        #: stream, not a new one every 5 s).
        self._check: CatchUpCheck | None = None
        #: The ids sent, oldest first (a dict keeps insertion order), at most SEEN_IDS.
        self._seen: dict[int, None] = {}

    def _remember(self, message_id: int) -> bool:
        if message_id in self._seen:
            return False
        if len(self._seen) >= SEEN_IDS:
            del self._seen[next(iter(self._seen))]
        self._seen[message_id] = None
        return True

    @staticmethod
    def _event(message: MessageOut) -> ServerSentEventMessage:
        return ServerSentEventMessage(
            data=msgspec.json.encode(message).decode(), event="message", id=str(message.id)
        )

    async def _page(self) -> list[MessageOut]:
        """The next page after the cursor; operator messages in it are stamped delivered."""
        async with transaction(self._sessions, self._publisher) as db:
            conversation = await current_conversation(db, self._inbox_id, self._visitor_id)
            if conversation is None:
                # Nothing yet: whatever appears later is new to this client.
                self._cursor = self._cursor or 0
                return []
            if self._cursor is None:
                # No Last-Event-ID: the client has what bootstrap gave; live from here.
                self._cursor = await newest_message_id(db, conversation.id)
                return []
            page = await visitor_messages(db, conversation.id, after_id=self._cursor)
            operator_ids = [m.id for m in page if m.sender == MessageSender.OPERATOR]
            if operator_ids:
                await mark_delivered_to_visitor(db, conversation, max(operator_ids))
            return [message_out(m, self._links) for m in page]

    def catch_up_check(self) -> CatchUpCheck | None:
        """Where the stream is, for the clock's lookup before each timed catch-up (shared by
        all the process's streams due in the same tick); None while the cursor is not set
        yet: then it reads. A failed lookup makes every stream of it read."""
        if self._cursor is None:
            return None
        check = self._check
        if check is None or check.after != self._cursor:
            check = self._check = CatchUpCheck(
                self._newest, (self._inbox_id, self._visitor_key), self._cursor
            )
        return check

    async def catch_up(self) -> AsyncIterator[ServerSentEventMessage]:
        while True:
            page = await to_completion(self._page())
            for message in page:
                self._cursor = max(self._cursor or 0, message.id)
                if self._remember(message.id):
                    yield self._event(message)
            if len(page) < MAX_PAGE:
                return

    async def on_event(self, envelope: Envelope) -> AsyncIterator[ServerSentEventMessage]:
        if envelope.visitor_id != self._visitor_key or envelope.audience == "staff":
            return
        data = msgspec.json.encode(envelope.data).decode()
        if envelope.event != "message":
            yield ServerSentEventMessage(data=data, event=envelope.event)
            return
        if envelope.id is None or envelope.data.get("kind") == "note":
            return
        if not self._remember(envelope.id):
            return
        yield ServerSentEventMessage(data=data, event="message", id=str(envelope.id))
        if envelope.data.get("sender") == "operator" and envelope.conversation_id:
            await to_completion(self._delivered(envelope.id, envelope.conversation_id))

    async def _delivered(self, up_to_id: int, conversation_id: str) -> None:
        async with transaction(self._sessions, self._publisher) as db:
            current = await current_conversation(db, self._inbox_id, self._visitor_id)
            if current is not None and str(current.id) == conversation_id:
                await mark_delivered_to_visitor(db, current, up_to_id)

    async def open(self) -> None:
        """Count this stream against the open-stream caps (429 past one)."""
        await self._throttle.open_stream(*self._lease)

    @property
    def _lease(self) -> tuple[str, str, str]:
        return self._ip, self._visitor_key, self._stream_id

    async def on_beat(self) -> bool:
        try:
            # Coalesced with the other streams' renewals (one store call per window), run
            # by the batch's own task: a stream going meanwhile abandons nothing.
            await self._throttle.renew_stream(*self._lease)
        except (RedisError, OSError):
            # Redis away: the stream stays open and keeps catching up from the database;
            # its lease is renewed at the first beat after Redis is back (a lease lost
            # meanwhile only frees a place, it never refuses this stream).
            log.warning("renewing an open stream's lease failed; the stream goes on")
        return True

    async def on_close(self) -> None:
        await self._throttle.close_stream(*self._lease)


class WidgetStreamController(Controller):
    path = "/api/widget"
    tags = ["widget"]

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
            **errors(401, 403, 422, 429),
        },
    )
    async def stream(
        self,
        request: AnyRequest,
        settings: SettingsDep,
        signer: SignerDep,
        tickets: TicketsDep,
        links: LinksDep,
        visits: VisitsDep,
        throttle: ThrottleDep,
        channels: NamedDependency[SkipValidation[ChannelsPlugin]],
        publisher: NamedDependency[SkipValidation[Publisher]],
        sessions: NamedDependency[SkipValidation[Sessions]],
        ticket: Annotated[str | None, QueryParameter(max_length=128)] = None,
        last_event_id: Annotated[int | None, QueryParameter(ge=0, le=MAX_EVENT_ID)] = None,
    ) -> ServerSentEvent:
        token = bearer(request)
        session = signer.verify(token) if token else await tickets.redeem(ticket)
        visit = await visits.admit(request, session, None)
        after = parse_last_event_id(request.headers.get("last-event-id"), last_event_id)
        source = VisitorStreamSource(
            visit,
            after=after,
            sessions=sessions,
            publisher=publisher,
            links=links,
            throttle=throttle,
        )
        await source.open()
        live = LiveStream(
            channels,
            [visitor_channel(settings.redis_prefix, visit.session.visitor_id)],
            audience="visitor",
            heartbeat_seconds=settings.stream_heartbeat_seconds,
            max_seconds=MAX_STREAM_SECONDS,
            catch_up_again_after=CATCH_UP_AGAIN_AFTER_SECONDS,
            catch_up_every=settings.stream_catch_up_seconds,
        )
        return LeanServerSentEvent(
            live.pumped(source), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )
