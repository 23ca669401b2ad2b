"""A new visitor's first message in **one** statement: visitor, conversation, message and
their webhook events — the call that starts every chat.

On the general path (:meth:`messenger.widget.service.WidgetService.send` through
:class:`messenger.conversations.intake.ConversationIntake`) a first message is eight ORM
statements and four flushes (≈ 20 ms of CPU, docs/performance.md): when twenty new
visitors a second arrive, first messages queue behind each other. Here the same rows come
from one statement on the direct pool, with the same guarantees:

* **one conversation per visitor** — the statement takes the same advisory lock as the
  intake (:func:`messenger.conversations.intake.visitor_lock_key`) before anything else and
  writes only if the visitor row did not exist (``ON CONFLICT DO NOTHING``): a second tab,
  a double click or a general-path first message of the same visitor finds the row and
  the caller takes the general path, which appends to the conversation that won;
* **the same rows and events** — the conversation as ``ConversationService.start`` makes
  it (open, normal priority, chat), the visitor as ``VisitorService.upsert`` (what the call
  tells about them and the referrer), the message as ``append``; the outbox rows of the
  general path's commit (``conversation.created``, ``conversation.status_changed``,
  ``message.created``); the ``status`` and ``message`` events published after commit.

Only the common case comes here (:func:`takes_first_message`): a branch inbox (routing
rules need the visitor's context and a database read), manual assignment (auto-assignment
locks operators' rows), no required pre-chat field, no attachment, no contact, an
anonymous session — and only when this process bootstrapped the visitor as new
(:class:`Newcomers`), so a returning visitor never pays an extra statement. Anything else
answers None and the general path runs.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any
from uuid import UUID

from uuid_utils.compat import uuid7

from messenger.attachments.links import AttachmentLinks
from messenger.conversations.intake import visitor_lock_key
from messenger.conversations.schemas import MessageOut, message_out
from messenger.conversations.service import clean_body
from messenger.db.direct import DirectDatabase
from messenger.db.events import DomainEvent
from messenger.db.models import Inbox
from messenger.db.outbox import SUBSCRIBED
from messenger.errors import InvalidInputError
from messenger.i18n import N_
from messenger.inboxes.settings import parse_settings
from messenger.inboxes.visitor_settings import PrechatSettings
from messenger.realtime.publisher import Publisher
from messenger.realtime.transaction import publish_committed
from messenger.visitors.service import Caller, observed
from messenger.widget.hotpath import stored_visitor_message

# $1 inbox, $2 visitor, $3 body, $4 client_msg_id, $5 lock key, $6 conversation id,
# $7 branch, $8..$15 what the call tells (page, agent, language, country code, country,
# city, country and city in Russian), $16 referrer.
FIRST = """
WITH locked AS (
    SELECT pg_advisory_xact_lock($5)
), visitor AS (
    INSERT INTO visitors (id, inbox_id, page_url, user_agent, locale, country_code, country,
                          city, country_ru, city_ru, referrer, created_at, updated_at)
    SELECT $2, $1, $8, $9, $10, $11, $12, $13, $14, $15, $16, now(), now() FROM locked
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), started AS (
    INSERT INTO conversations (id, inbox_id, branch_id, visitor_id, channel, status, priority,
                               last_activity_at, created_at, updated_at)
    SELECT $6, $1, $7, visitor.id, 'chat', 'open', 'normal', now(), now(), now() FROM visitor
    RETURNING id
), stored AS (
    INSERT INTO messages (conversation_id, sender, kind, body, client_msg_id,
                          created_at, updated_at)
    SELECT id, 'visitor', 'message', $3, $4, now(), now() FROM started
    RETURNING id, created_at
), outboxed AS (
    INSERT INTO outbox (topic, event_id, inbox_id, payload, status, attempts, available_at,
                        created_at, updated_at)
    SELECT e.topic, gen_random_uuid(), $1, e.payload, 'pending', 0, now(), now(), now()
    FROM started JOIN stored ON true
    CROSS JOIN LATERAL (VALUES
        (1, 'conversation.created', jsonb_build_object('conversation_id', started.id::text)),
        (2, 'conversation.status_changed',
         jsonb_build_object('conversation_id', started.id::text, 'status', 'open')),
        (3, 'message.created',
         jsonb_build_object('conversation_id', started.id::text, 'message_id', stored.id))
    ) AS e(n, topic, payload)
    WHERE {subscribed}
    ORDER BY e.n
)
SELECT stored.id, stored.created_at FROM stored
""".replace("{subscribed}", SUBSCRIBED)

#: Visitors remembered per process between their bootstrap and first message.
NEWCOMERS_KEPT = 50_000


class Newcomers:
    """Visitors this process bootstrapped as new (no conversation can exist yet), until
    their first message. A hint only: a visitor missing here (forgotten, or bootstrapped by
    another process) takes the hot send, then the general path, as before; one wrongly here
    finds their visitor row and takes the general path."""

    def __init__(self, kept: int = NEWCOMERS_KEPT) -> None:
        self._kept = kept
        self._ids: OrderedDict[UUID, None] = OrderedDict()

    def add(self, visitor_id: UUID) -> None:
        self._ids[visitor_id] = None
        if len(self._ids) > self._kept:
            self._ids.popitem(last=False)

    def take(self, visitor_id: UUID) -> bool:
        """True once for a visitor added and not taken since."""
        return self._ids.pop(visitor_id, False) is None

    def __len__(self) -> int:
        return len(self._ids)


def takes_first_message(inbox: Inbox) -> bool:
    """The inbox's first messages can skip the intake: a branch inbox (no routing rule to
    read), manual assignment, and no pre-chat field required before the first message."""
    if inbox.branch_id is None:
        return False
    settings = parse_settings(inbox.settings)
    return settings.assignment.mode == "manual" and not _asks_first(settings.prechat)


def _asks_first(prechat: PrechatSettings) -> bool:
    return prechat.enabled and any(field.required for field in prechat.fields)


class FirstMessage:
    def __init__(self, db: DirectDatabase, publisher: Publisher, links: AttachmentLinks) -> None:
        self._db = db
        self._publisher = publisher
        self._links = links

    async def start(
        self,
        *,
        inbox: Inbox,
        visitor_id: UUID,
        body: str,
        client_msg_id: str,
        caller: Caller,
        location: Any,
        page_url: str | None,
        referrer: str | None,
    ) -> MessageOut | None:
        """The stored, published first message; None: the visitor exists, take the
        general path."""
        if not body.strip():
            raise InvalidInputError(N_("A message needs text or an attachment."))
        text = clean_body(body)
        told = observed(location, caller, page_url)
        conversation_id = uuid7()
        branch_id = inbox.branch_id
        rows = await self._db.fetch(
            FIRST,
            inbox.id,
            visitor_id,
            text,
            client_msg_id,
            visitor_lock_key(visitor_id),
            conversation_id,
            branch_id,
            told["page_url"],
            told["user_agent"],
            told["locale"],
            told["country_code"],
            told["country"],
            told["city"],
            told["country_ru"],
            told["city_ru"],
            referrer,
        )
        if not rows:
            return None
        message = stored_visitor_message(rows[0], conversation_id, text, client_msg_id)
        status = {"conversation_id": str(conversation_id), "status": "open"}
        await publish_committed(
            self._publisher,
            [
                DomainEvent("status", conversation_id, visitor_id, branch_id, data=status),
                DomainEvent("message", conversation_id, visitor_id, branch_id, message=message),
            ],
        )
        return message_out(message, self._links)
