"""The outbox: jobs that must not be lost, written in the same transaction as the change.

Webhook events are not written by the services: they come from the same domain events the
services already record for live screens (:mod:`messenger.db.events`). Just before a
session commits, :func:`_before_commit` turns the recorded events into :class:`OutboxEntry`
rows, which the commit then writes with everything else. So every path that changes a
conversation through the services (dashboard, widget, the integration API) fires webhooks
with no code of its own, and a crash after the commit loses nothing: the worker
(``messenger worker``) finds the rows and carries them out at least once.

What an entry holds are the facts of the moment (ids, the new status); the webhook body is
composed by the worker from the database when it fans the event out
(:mod:`messenger.webhooks.payloads`), once, so every retry sends the same bytes.

Paths that write without the ORM (the widget's one-statement hot path) insert the same rows
in their statement (:data:`HOT_PATH_CTE`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import event
from sqlalchemy.orm import Session

from messenger.db.events import AnySession, DomainEvent, pending
from messenger.db.models import (
    Conversation,
    MessageKind,
    MessageSender,
    OutboxEntry,
)

#: The event types of INTEGRATIONS.md §3 (``csat.submitted`` is recorded with :func:`emit`).
EVENT_TYPES = (
    "conversation.created",
    "message.created",
    "note.created",
    "conversation.status_changed",
    "conversation.assigned",
    "csat.submitted",
)

_CREATED = "messenger.outbox.created_conversations"


def entry(topic: str, payload: dict[str, Any], *, inbox_id: int | None = None) -> OutboxEntry:
    return OutboxEntry(
        topic=topic, payload=payload, inbox_id=inbox_id, available_at=datetime.now(UTC)
    )


def emit(
    session: AnySession, topic: str, payload: dict[str, Any], *, inbox_id: int | None = None
) -> OutboxEntry:
    """Write an event (``csat.submitted``, …) or a job in the session's transaction.

    ``payload`` for a conversation event carries ``conversation_id`` (a string); the worker
    adds the conversation's summary to the webhook's ``data``.
    """
    row = entry(topic, payload, inbox_id=inbox_id)
    session.add(row)
    return row


def outbox_entries(recorded: list[DomainEvent], created: list[UUID]) -> list[OutboxEntry]:
    """The webhook events a transaction's domain events stand for, in order."""
    rows = [entry("conversation.created", {"conversation_id": str(c)}) for c in created]
    for domain_event in recorded:
        topic, payload = _translate(domain_event)
        if topic is not None:
            rows.append(entry(topic, payload))
    return rows


def _translate(domain_event: DomainEvent) -> tuple[str | None, dict[str, Any]]:
    conversation_id = str(domain_event.conversation_id)
    message = domain_event.message
    if domain_event.name == "message" and message is not None:
        facts = {"conversation_id": conversation_id, "message_id": message.id}
        if message.kind == MessageKind.MESSAGE and message.sender in (
            MessageSender.VISITOR,
            MessageSender.OPERATOR,
        ):
            return "message.created", facts
        if message.kind == MessageKind.NOTE and message.sender == MessageSender.OPERATOR:
            return "note.created", facts
        if message.kind == MessageKind.EVENT and message.body == "assigned":
            return "conversation.assigned", {
                "conversation_id": conversation_id,
                "assignee_id": message.author_id,
            }
        return None, {}
    if domain_event.name == "status":
        data = domain_event.data
        if "status" in data:
            return "conversation.status_changed", {
                "conversation_id": conversation_id,
                "status": data["status"],
            }
        # Unassigned (None), auto-assigned, or transferred (the copy of a transfer event
        # addressed to the old branch, ``moved_to``, is the same change: not twice).
        if "assignee" in data and "moved_to" not in data:
            return "conversation.assigned", {
                "conversation_id": conversation_id,
                "assignee_id": data["assignee"],
            }
    if domain_event.name == "csat.submitted":
        data = domain_event.data
        return "csat.submitted", {
            "conversation_id": conversation_id,
            "rating": data.get("rating"),
            "comment": data.get("comment"),
        }
    return None, {}


@event.listens_for(Session, "after_flush")
def _note_new_conversations(session: Session, _context: object) -> None:
    for instance in session.new:
        if isinstance(instance, Conversation):
            session.info.setdefault(_CREATED, []).append(instance.id)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.new:  # conversations not flushed yet are noticed by the flush's listener
        session.flush()
    created: list[UUID] = session.info.pop(_CREATED, [])
    recorded = pending(session)
    done = session.info.get(_DONE, 0)
    rows = outbox_entries(recorded[done:], created)
    session.info[_DONE] = len(recorded)
    if rows:
        session.add_all(rows)


_DONE = "messenger.outbox.translated"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_CREATED, None)
    session.info.pop(_DONE, None)


#: Whether an enabled webhook endpoint wants the event ``e.topic`` of inbox ``$1`` (what
#: :func:`messenger.webhooks.service.wants` decides in the worker). The one-statement paths
#: write a visitor's events only then: a visitor's message, a conversation it started or
#: reopened concern webhooks alone (mail jobs follow operators' replies and resolutions,
#: :func:`messenger.mail.jobs.schedule`), and most sites have no endpoint at all. Without
#: this, every visitor message wrote two more rows, their index entries and WAL, and the
#: worker later marked them done for nobody (docs/performance.md, "The send's outbox rows").
#: An endpoint receives the events written after it was enabled.
SUBSCRIBED = """
EXISTS (
    SELECT 1 FROM webhook_endpoints AS w
    WHERE w.enabled AND (w.inbox_id IS NULL OR w.inbox_id = $1)
      AND (w.events = '[]'::jsonb OR w.events ? e.topic)
)
""".strip()

#: The hot path's statement inserts its events with this (``touched``: the conversation row
#: it updated, with ``was``, the status before; ``stored``: the message it inserted;
#: ``$1``: the inbox).
HOT_PATH_CTE = """
, outboxed AS (
    INSERT INTO outbox (topic, event_id, inbox_id, payload, status, attempts, available_at,
                        created_at, updated_at)
    SELECT e.topic, gen_random_uuid(), $1, e.payload, 'pending', 0, now(), now(), now()
    FROM touched JOIN stored ON true
    CROSS JOIN LATERAL (VALUES
        (1, 'conversation.status_changed',
         jsonb_build_object('conversation_id', touched.id::text, 'status', 'open'),
         touched.was <> 'open'),
        (2, 'message.created',
         jsonb_build_object('conversation_id', touched.id::text, 'message_id', stored.id),
         true)
    ) AS e(n, topic, payload, wanted)
    WHERE e.wanted AND {subscribed}
    ORDER BY e.n
)
""".replace("{subscribed}", SUBSCRIBED)
