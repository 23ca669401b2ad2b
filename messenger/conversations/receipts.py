"""Receipts: an operator's message reached the visitor's widget (delivered); either side
read the other's messages up to an id (read markers)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session

from messenger.conversations.timeline import VISITOR_KINDS
from messenger.db.events import DomainEvent, about, record
from messenger.db.models import Conversation, Message, MessageKind, MessageSender


async def mark_delivered_to_visitor(
    session: AsyncSession, conversation: Conversation, up_to_id: int
) -> int | None:
    """Stamp ``delivered_at`` on operator messages up to ``up_to_id`` not yet stamped.

    Returns the highest id stamped when something changed (and records the ``delivered``
    receipt for staff), None otherwise. The caller's unit of work commits.
    """
    conversation_id = conversation.id
    now = datetime.now(UTC)
    condition = (
        (Message.conversation_id == conversation_id)
        & (Message.id <= up_to_id)
        & (Message.sender == MessageSender.OPERATOR)
        & (Message.kind == MessageKind.MESSAGE)
        & Message.delivered_at.is_(None)
    )
    highest = await session.scalar(select(func.max(Message.id)).where(condition))
    if highest is None:
        return None
    await session.execute(
        update(Message)
        .where(condition)
        .values(delivered_at=now)
        .execution_options(synchronize_session=False)
    )
    record(session, receipt_event(conversation, "delivered", highest, now, by="visitor"))
    return highest


def receipt_event(
    conversation: Conversation, kind: str, up_to_id: int, at: datetime, *, by: str
) -> DomainEvent:
    """``kind`` delivered/read, ``by`` the side that received or read. Receipts about the
    visitor concern staff; an operator's read also shows as ticks in the widget."""
    data = {
        "kind": kind,
        "by": by,
        "up_to_id": up_to_id,
        "at": at.isoformat(),
        "conversation_id": str(conversation.id),
    }
    return about(conversation, "receipt", data, to_visitor=by == "operator")


async def mark_read(
    session: AsyncSession | async_scoped_session[AsyncSession],
    conversation: Conversation,
    up_to_id: int,
    *,
    reader: MessageSender,
) -> int | None:
    """Read markers: the visitor (or the operators) read up to ``up_to_id``; the new marker."""
    query = select(Message.id).where(
        Message.conversation_id == conversation.id, Message.id <= up_to_id
    )
    # Either marker is a message the visitor can see: the operator's marker reaches the
    # visitor as a receipt, so a note's id (or any staff-only kind) never becomes one.
    query = query.where(Message.kind.in_(VISITOR_KINDS))
    last_id: int | None = await session.scalar(query.order_by(Message.id.desc()).limit(1))
    if last_id is None:
        return None
    now = datetime.now(UTC)
    if reader == MessageSender.VISITOR:
        read_senders = [MessageSender.OPERATOR, MessageSender.SYSTEM]
        current = conversation.visitor_last_read_id or 0
    else:
        read_senders = [MessageSender.VISITOR]
        current = conversation.operator_last_read_id or 0
    if last_id <= current:
        return current
    await session.execute(
        update(Message)
        .where(
            Message.conversation_id == conversation.id,
            Message.id > current,
            Message.id <= last_id,
            Message.sender.in_(read_senders),
            Message.kind != MessageKind.NOTE,
            Message.read_at.is_(None),
        )
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    if reader == MessageSender.VISITOR:
        conversation.visitor_last_read_id = last_id
    else:
        conversation.operator_last_read_id = last_id
    await session.flush()
    # Read by the visitor concerns staff; read by an operator also shows as ticks in
    # the widget.
    by = "visitor" if reader == MessageSender.VISITOR else "operator"
    record(session, receipt_event(conversation, "read", last_id, now, by=by))
    return last_id
