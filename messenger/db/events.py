"""Domain events: what a transaction did that live screens must learn, published after commit.

Services never publish. They *record* an event on the database session they write with
(:func:`record`); when that session commits, the recorded events become *committed*, and
the one piece of code that ends a unit of work (:mod:`messenger.realtime.transaction`)
hands them to the publisher. A rollback drops them. So "publish before commit" cannot be
written, and an event can never announce a write that did not happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias
from uuid import UUID

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session
from sqlalchemy.orm import Session

from messenger.db.models import Conversation, Inbox, Message

#: A session to record on: plain, async, or the scoped proxy an advanced-alchemy
#: repository may hold (its ``info`` is the current session's).
AnySession: TypeAlias = AsyncSession | async_scoped_session[AsyncSession] | Session

EventName = Literal["message", "typing", "receipt", "status", "csat.submitted"]

_PENDING = "messenger.events.pending"
_COMMITTED = "messenger.events.committed"
_INBOXES_PENDING = "messenger.inboxes.pending"
_INBOXES_COMMITTED = "messenger.inboxes.committed"


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """One event about one conversation.

    A ``message`` event carries the stored :class:`Message` (with its author and
    attachments loaded); the publisher turns it into the wire shape and decides, by the
    message's kind, whether the visitor may receive it. Other events carry ``data``.
    """

    name: EventName
    conversation_id: UUID
    visitor_id: UUID
    branch_id: int | None
    data: dict[str, Any] = field(default_factory=dict)
    message: Message | None = None
    to_visitor: bool = True
    to_staff: bool = True


def about(
    conversation: Conversation,
    name: EventName,
    data: dict[str, Any] | None = None,
    *,
    message: Message | None = None,
    to_visitor: bool = True,
    to_staff: bool = True,
) -> DomainEvent:
    return DomainEvent(
        name=name,
        conversation_id=conversation.id,
        visitor_id=conversation.visitor_id,
        branch_id=conversation.branch_id,
        data=data or {},
        message=message,
        to_visitor=to_visitor,
        to_staff=to_staff,
    )


def _info(session: AnySession) -> dict[str, Any]:
    return session.info


def record(session: AnySession, domain_event: DomainEvent) -> None:
    """Remember ``domain_event`` until the session's transaction ends."""
    _info(session).setdefault(_PENDING, []).append(domain_event)


def take_committed(session: AnySession) -> list[DomainEvent]:
    """The events of the transactions this session committed since the last call."""
    committed: list[DomainEvent] = _info(session).pop(_COMMITTED, [])
    return committed


def pending(session: AnySession) -> list[DomainEvent]:
    """Events recorded in the open transaction (not yet committed); for tests and checks."""
    return list(_info(session).get(_PENDING, []))


def take_committed_inbox_changes(session: AnySession) -> bool:
    """Whether the transactions this session committed since the last call changed an
    inbox (its settings, token, state): every process's inbox cache must then be told."""
    return bool(_info(session).pop(_INBOXES_COMMITTED, False))


@event.listens_for(Session, "after_flush")
def _on_flush(session: Session, _context: object) -> None:
    # Inbox changes are noticed here, whatever wrote them: no service can forget to say so.
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, Inbox):
            session.info[_INBOXES_PENDING] = True
            return


@event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    recorded = session.info.pop(_PENDING, None)
    if recorded:
        session.info.setdefault(_COMMITTED, []).extend(recorded)
    if session.info.pop(_INBOXES_PENDING, False):
        session.info[_INBOXES_COMMITTED] = True


@event.listens_for(Session, "after_rollback")
def _on_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_INBOXES_PENDING, None)
