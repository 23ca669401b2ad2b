"""The widget's hot path: a visitor's send, poll and read, **one** statement each, on PostgreSQL.

A visitor who already has a conversation sends, polls and marks what it read all day; these
calls are nearly all of the Widget API's load. Each is one hand-written statement on the direct
asyncpg pool (:mod:`messenger.db.direct`), with every guarantee of the general path in
:class:`messenger.widget.service.WidgetService`:

* **id order under the conversation lock** — the send's statement locks the conversation
  row (``FOR UPDATE``, then its ``UPDATE``) before the ``INSERT`` draws the message id from
  the rows that UPDATE returned: ids of one conversation commit in order, so "after id N"
  never skips a late commit (replay and poll rely on it);
* **idempotency** — a known ``client_msg_id`` changes nothing (the UPDATE is guarded by
  its absence) and the ``INSERT … ON CONFLICT DO NOTHING`` settles a concurrent retry;
* **notes never visible** — the poll admits only :data:`VISITOR_KINDS`, and the message
  is published through :class:`messenger.realtime.publisher.Publisher`, the one place
  that decides who may receive it;
* **published after commit** — the statement is its own transaction (autocommit);
* **webhook events in the same transaction** — the statement writes its outbox rows
  (:data:`messenger.db.outbox.HOT_PATH_CTE`), as the general path's commit does.

Anything else answers None and the caller takes the general path: a first message (no
conversation yet, or only a closed one), attachments, a repeated ``client_msg_id``, a
concurrent retry, operator messages the widget has not yet acknowledged (a poll that must
stamp ``delivered``), a read marker another call moved meanwhile, and SQLite (the embedded
mode has no direct pool).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy.orm.attributes import set_committed_value

from messenger.attachments.links import AttachmentLinks
from messenger.conversations.receipts import receipt_event
from messenger.conversations.schemas import (
    AttachmentOut,
    Author,
    ConversationOut,
    MessageOut,
    message_out,
)
from messenger.conversations.service import clean_body
from messenger.conversations.timeline import MAX_PAGE, VISITOR_KINDS
from messenger.db.direct import DirectDatabase
from messenger.db.events import DomainEvent
from messenger.db.models import (
    Conversation,
    ConversationStatus,
    Message,
    MessageKind,
    MessageSender,
)
from messenger.db.outbox import HOT_PATH_CTE
from messenger.errors import InvalidInputError
from messenger.i18n import N_
from messenger.metrics import MESSAGES, child
from messenger.realtime.publisher import Publisher
from messenger.realtime.transaction import publish_committed
from messenger.visitors.service import Caller, observed
from messenger.widget.schemas import ReadResponse

# $1 inbox, $2 visitor, $3 body, $4 client_msg_id, $5..$10 what the call tells about the
# visitor (page, agent, language, country code, country, city: NULL keeps the stored one).
SEND = """
WITH conversation AS (
    SELECT id, status, branch_id FROM conversations
    WHERE inbox_id = $1 AND visitor_id = $2
    ORDER BY created_at DESC, id DESC LIMIT 1
    FOR UPDATE
), known AS (
    SELECT 1 FROM messages, conversation
    WHERE messages.conversation_id = conversation.id AND messages.client_msg_id = $4
), touched AS (
    UPDATE conversations AS c
    SET last_activity_at = now(), updated_at = now(), status = 'open', snoozed_until = NULL
    FROM conversation
    WHERE c.id = conversation.id AND conversation.status <> 'closed'
      AND NOT EXISTS (SELECT 1 FROM known)
    RETURNING c.id, c.branch_id, conversation.status AS was
), stored AS (
    INSERT INTO messages (conversation_id, sender, kind, body, client_msg_id,
                          created_at, updated_at)
    SELECT id, 'visitor', 'message', $3, $4, now(), now() FROM touched
    ON CONFLICT (conversation_id, client_msg_id) DO NOTHING
    RETURNING id, created_at
), seen AS (
    UPDATE visitors AS v
    SET page_url = COALESCE($5, v.page_url), user_agent = COALESCE($6, v.user_agent),
        locale = COALESCE($7, v.locale), country_code = COALESCE($8, v.country_code),
        country = COALESCE($9, v.country), city = COALESCE($10, v.city),
        country_ru = COALESCE($11, v.country_ru), city_ru = COALESCE($12, v.city_ru),
        updated_at = now()
    FROM stored
    WHERE v.id = $2 AND (v.page_url, v.user_agent, v.locale, v.country_code, v.country, v.city,
                         v.country_ru, v.city_ru)
        IS DISTINCT FROM (COALESCE($5, v.page_url), COALESCE($6, v.user_agent),
                          COALESCE($7, v.locale), COALESCE($8, v.country_code),
                          COALESCE($9, v.country), COALESCE($10, v.city),
                          COALESCE($11, v.country_ru), COALESCE($12, v.city_ru))
    RETURNING v.id
)
{outboxed}
SELECT touched.id AS conversation_id, touched.branch_id, touched.was,
       stored.id, stored.created_at
FROM touched JOIN stored ON true
""".replace("{outboxed}", HOT_PATH_CTE.strip())

# The visitor's latest conversation and, on the same rows, messages the visitor may see:
# one row per message (none: one row with NULL message columns).
_TIMELINE = """
SELECT c.id AS conversation_id, c.status, c.branch_id, m.id, m.sender, m.kind, m.body,
       m.client_msg_id, m.created_at, m.delivered_at, m.read_at,
       COALESCE(u.name, m.author_name) AS author,
       (SELECT json_agg(json_build_object('id', a.id, 'filename', a.filename,
                                          'content_type', a.content_type,
                                          'size', a.size_bytes) ORDER BY a.created_at)
        FROM attachments AS a WHERE a.message_id = m.id) AS attachments
FROM (
    SELECT id, status, branch_id FROM conversations
    WHERE inbox_id = $1 AND visitor_id = $2
    ORDER BY created_at DESC, id DESC LIMIT 1
) AS c
LEFT JOIN LATERAL (
    SELECT * FROM messages
    WHERE conversation_id = c.id AND kind IN ('message', 'event') AND {which}
) AS m ON true
LEFT JOIN users AS u ON u.id = m.author_id
ORDER BY m.id
"""
#: The visitor's latest conversation (the intake's ``current_conversation``, one row).
CURRENT = """
SELECT id, status, branch_id FROM conversations
WHERE inbox_id = $1 AND visitor_id = $2
ORDER BY created_at DESC, id DESC LIMIT 1
"""
#: The visitor's read marker (what :func:`messenger.conversations.receipts.mark_read` does
#: for the visitor, in one statement). $3: the id the widget has read up to. ``seen``: the
#: newest message the visitor can see up to $3; when it is past the marker (``was``), the
#: conversation's marker moves to it and the operator and system messages between are
#: stamped read (``marked``). The UPDATE's own conditions are checked again on the row as a
#: concurrent read left it (PostgreSQL re-reads a row it waited for), so the marker never
#: goes back: ``marked`` is NULL when another read moved it as far or further, or staff
#: closed the conversation, since this statement's snapshot (the caller takes the general
#: path, which answers the marker that won).
#: ``at``: the transaction's time, the ``read_at`` stamped and the receipt's time.
READ = """
WITH conversation AS (
    SELECT id, status, branch_id, COALESCE(visitor_last_read_id, 0) AS was FROM conversations
    WHERE inbox_id = $1 AND visitor_id = $2
    ORDER BY created_at DESC, id DESC LIMIT 1
), seen AS (
    SELECT max(m.id) AS id FROM messages AS m, conversation
    WHERE m.conversation_id = conversation.id AND m.id <= $3 AND m.kind IN ('message', 'event')
      AND conversation.status <> 'closed'
), moved AS (
    UPDATE conversations AS c SET visitor_last_read_id = seen.id, updated_at = now()
    FROM conversation, seen
    WHERE c.id = conversation.id AND seen.id > conversation.was
      AND COALESCE(c.visitor_last_read_id, 0) < seen.id AND c.status <> 'closed'
    RETURNING c.id, seen.id AS up_to_id, conversation.was
), stamped AS (
    UPDATE messages AS m SET read_at = now(), updated_at = now()
    FROM moved
    WHERE m.conversation_id = moved.id AND m.id > moved.was AND m.id <= moved.up_to_id
      AND m.sender IN ('operator', 'system') AND m.kind <> 'note' AND m.read_at IS NULL
    RETURNING m.id
)
SELECT conversation.id, conversation.status, conversation.branch_id, conversation.was,
       seen.id AS seen, moved.up_to_id AS marked, now() AS at
FROM conversation LEFT JOIN seen ON true LEFT JOIN moved ON true
"""
#: $3: the last id the widget has. At most a page, oldest first.
POLL = _TIMELINE.replace("{which}", "id > $3 ORDER BY id LIMIT 200")
#: The last 100 (what a returning visitor's widget shows first).
RECENT = _TIMELINE.replace("{which}", "true ORDER BY id DESC LIMIT 100")

# The statements spell out what the visitor may see; they must say what timeline.py says.
if {k.value for k in VISITOR_KINDS} != {"message", "event"} or MAX_PAGE != 200:  # pragma: no cover
    msg = "hotpath.POLL and READ are out of step with conversations.timeline"
    raise RuntimeError(msg)

_ATTACHMENTS = msgspec.json.Decoder(list[dict[str, Any]])


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def stored_visitor_message(
    row: Any, conversation_id: UUID, text: str, client_msg_id: str
) -> Message:
    """A visitor message a statement stored (``row``: its id and created_at), as a
    transient Message (never added to a session): the publisher and the response take the
    same shape as on the general path. Counted as the general path counts it."""
    message = Message(
        id=row["id"],
        conversation_id=conversation_id,
        sender=MessageSender.VISITOR,
        kind=MessageKind.MESSAGE,
        body=text,
        client_msg_id=client_msg_id,
        created_at=row["created_at"],
        delivered_at=None,
        read_at=None,
    )
    set_committed_value(message, "author", None)
    set_committed_value(message, "attachments", [])
    child(MESSAGES, "visitor", "message").inc()
    return message


def _conversation(row: Any, inbox_id: int, visitor_id: UUID) -> Conversation:
    """The visitor's conversation as a transient row (id, visitor, branch, status): what
    an event about it needs, without a unit of work."""
    return Conversation(
        id=row["id"],
        inbox_id=inbox_id,
        visitor_id=visitor_id,
        branch_id=row["branch_id"],
        status=ConversationStatus(row["status"]),
    )


@dataclass(frozen=True, slots=True)
class Timeline:
    """The visitor's current conversation (None: none, or closed) and messages of it."""

    conversation: ConversationOut | None
    branch_id: int | None
    messages: list[MessageOut]


class HotPath:
    def __init__(self, db: DirectDatabase, publisher: Publisher, links: AttachmentLinks) -> None:
        self._db = db
        self._publisher = publisher
        self._links = links

    async def send(
        self,
        *,
        inbox_id: int,
        visitor_id: UUID,
        body: str,
        client_msg_id: str,
        caller: Caller,
        location: Any,
        page_url: str | None,
    ) -> MessageOut | None:
        """The new message, stored and published; None: take the general path."""
        if not body.strip():
            raise InvalidInputError(N_("A message needs text or an attachment."))
        text = clean_body(body)
        told = observed(location, caller, page_url)
        rows = await self._db.fetch(
            SEND,
            inbox_id,
            visitor_id,
            text,
            client_msg_id,
            told["page_url"],
            told["user_agent"],
            told["locale"],
            told["country_code"],
            told["country"],
            told["city"],
            told["country_ru"],
            told["city_ru"],
        )
        if not rows:
            return None
        row = rows[0]
        conversation_id: UUID = row["conversation_id"]
        message = stored_visitor_message(row, conversation_id, text, client_msg_id)
        branch_id = row["branch_id"]
        events = []
        if row["was"] != ConversationStatus.OPEN.value:  # the visitor reopened it
            status = {"conversation_id": str(conversation_id), "status": "open"}
            events.append(
                DomainEvent("status", conversation_id, visitor_id, branch_id, data=status)
            )
        events.append(
            DomainEvent("message", conversation_id, visitor_id, branch_id, message=message)
        )
        await publish_committed(self._publisher, events)
        return message_out(message, self._links)

    async def current(self, *, inbox_id: int, visitor_id: UUID) -> Conversation | None:
        """The visitor's conversation unless closed, as a transient row (id, visitor,
        branch, status): what the typing signal needs, without a unit of work."""
        rows = await self._db.fetch(CURRENT, inbox_id, visitor_id)
        if not rows or rows[0]["status"] == ConversationStatus.CLOSED.value:
            return None
        return _conversation(rows[0], inbox_id, visitor_id)

    async def read(self, *, inbox_id: int, visitor_id: UUID, up_to_id: int) -> ReadResponse | None:
        """The visitor read up to ``up_to_id``: the marker moved, the messages stamped and
        the receipt told to staff as :func:`~messenger.conversations.receipts.mark_read`
        does; the marker it answers. None: a concurrent write, take the general path."""
        rows = await self._db.fetch(READ, inbox_id, visitor_id, up_to_id)
        if not rows or rows[0]["seen"] is None:  # no conversation, closed, nothing to read
            return ReadResponse(up_to_id=None)
        row = rows[0]
        if row["seen"] <= row["was"]:
            return ReadResponse(up_to_id=row["was"])  # the marker never goes back
        marked: int | None = row["marked"]
        if marked is None:
            return None
        conversation = _conversation(row, inbox_id, visitor_id)
        event = receipt_event(conversation, "read", marked, row["at"], by="visitor")
        await publish_committed(self._publisher, [event])
        return ReadResponse(up_to_id=marked)

    async def poll(
        self, *, inbox_id: int, visitor_id: UUID, after_id: int
    ) -> tuple[ConversationOut | None, list[MessageOut]] | None:
        """The visitor's messages after ``after_id``; None: take the general path."""
        found = self._timeline(await self._db.fetch(POLL, inbox_id, visitor_id, after_id))
        return None if found is None else (found.conversation, found.messages)

    async def recent(self, *, inbox_id: int, visitor_id: UUID) -> Timeline | None:
        """The returning visitor's conversation and last messages; None: the general path
        (no conversation: the bootstrap routes one; or a delivery to stamp)."""
        found = self._timeline(await self._db.fetch(RECENT, inbox_id, visitor_id))
        return None if found is None or found.conversation is None else found

    def _timeline(self, rows: list[Any]) -> Timeline | None:
        if not rows or rows[0]["status"] == ConversationStatus.CLOSED.value:
            return Timeline(None, None, [])
        messages: list[MessageOut] = []
        for row in rows:
            if row["id"] is None:
                break
            sender = row["sender"]
            if (
                row["delivered_at"] is None
                and sender == MessageSender.OPERATOR.value
                and row["kind"] == MessageKind.MESSAGE.value
            ):
                return None  # the general path stamps it delivered and tells staff
            messages.append(self._message(row))
        first = rows[0]
        conversation = ConversationOut(id=str(first["conversation_id"]), status=first["status"])
        return Timeline(conversation, first["branch_id"], messages)

    def _message(self, row: Any) -> MessageOut:
        return MessageOut(
            id=row["id"],
            conversation_id=str(row["conversation_id"]),
            sender=row["sender"],
            kind=row["kind"],
            body=row["body"],
            client_msg_id=row["client_msg_id"],
            created_at=_iso(row["created_at"]) or "",
            delivered_at=_iso(row["delivered_at"]),
            read_at=_iso(row["read_at"]),
            author=Author(name=row["author"]) if row["author"] is not None else None,
            attachments=[
                AttachmentOut(
                    id=a["id"],
                    filename=a["filename"],
                    content_type=a["content_type"],
                    size=a["size"],
                    url=self._links.url(a["id"]),
                )
                for a in _ATTACHMENTS.decode(row["attachments"] or "[]")
            ],
        )
