"""Delivered receipts: an operator's message reached the visitor's widget."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Message, MessageKind, MessageSender


async def mark_delivered_to_visitor(
    session: AsyncSession, conversation_id: UUID, up_to_id: int
) -> tuple[int, datetime] | None:
    """Stamp ``delivered_at`` on operator messages up to ``up_to_id`` not yet stamped.

    Returns ``(highest id stamped, time)`` when something changed (then a receipt event is
    due), None otherwise. Commits.
    """
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
    await session.commit()
    return highest, now
