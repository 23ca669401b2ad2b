"""Delivered receipts: an operator's message reached the visitor's widget."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

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
