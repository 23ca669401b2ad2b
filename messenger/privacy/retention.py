"""Retention (``MESSENGER_RETENTION_DAYS``): conversations inactive longer are anonymised
(their visitor-written content erased, as :mod:`~messenger.privacy.erase` does; the row
stays for statistics) or deleted (``MESSENGER_RETENTION_MODE``).

Work goes in batches of ``MESSENGER_RETENTION_BATCH_SIZE`` conversations, one transaction
each (:func:`run_batch`): the rows of a batch are locked only while it runs, and on
PostgreSQL ``SKIP LOCKED`` lets two runs share the work. A visitor whose every conversation
is anonymised (or gone) loses their contact fields too; in ``delete`` mode a visitor left
with no conversation is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from sqlalchemy import ColumnElement, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.storage import Storage
from messenger.db import audit
from messenger.db.models import Attachment, Conversation, Visitor
from messenger.privacy.erase import Erasure, erase_conversations, erase_visitor_fields

Mode = Literal["anonymise", "delete"]


def cutoff_for(days: int, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=days)


def _due(mode: Mode, cutoff: datetime) -> ColumnElement[bool]:
    old = Conversation.last_activity_at < cutoff
    return old if mode == "delete" else old & Conversation.erased_at.is_(None)


@dataclass(slots=True)
class Due:
    conversations: int
    visitors: int


async def count_due(db: AsyncSession, mode: Mode, cutoff: datetime) -> Due:
    """What a run would touch (the dry run): conversations, and their distinct visitors."""
    row = (
        await db.execute(
            select(func.count(), func.count(func.distinct(Conversation.visitor_id))).where(
                _due(mode, cutoff)
            )
        )
    ).one()
    return Due(conversations=int(row[0]), visitors=int(row[1]))


@dataclass(slots=True)
class BatchResult:
    erasure: Erasure = field(default_factory=Erasure)
    deleted_conversations: int = 0


async def run_batch(
    db: AsyncSession, storage: Storage, mode: Mode, cutoff: datetime, size: int
) -> BatchResult:
    """One batch (the caller commits): at most ``size`` due conversations, oldest first."""
    query = (
        select(Conversation.id, Conversation.visitor_id)
        .where(_due(mode, cutoff))
        .order_by(Conversation.last_activity_at, Conversation.id)
        .limit(size)
    )
    if db.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Conversation)
    rows = (await db.execute(query)).all()
    result = BatchResult()
    if not rows:
        return result
    ids = [row[0] for row in rows]
    visitors = sorted({row[1] for row in rows})
    if mode == "anonymise":
        result.erasure = await erase_conversations(db, storage, ids)
        done = await _visitors_without(db, visitors, Conversation.erased_at.is_(None))
        result.erasure.add(await erase_visitor_fields(db, storage, done))
    else:
        keys = list(
            await db.scalars(
                select(Attachment.storage_key).where(Attachment.conversation_id.in_(ids))
            )
        )
        await db.execute(
            delete(Conversation)
            .where(Conversation.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        await db.flush()
        for key in keys:
            await storage.delete(key)
        result.deleted_conversations = len(ids)
        result.erasure.attachments = len(keys)
        gone = await _visitors_without(db, visitors, None)
        result.erasure.add(await erase_visitor_fields(db, storage, gone))
        await db.execute(
            delete(Visitor).where(Visitor.id.in_(gone)).execution_options(synchronize_session=False)
        )
    audit.record(
        db,
        "retention.run",
        None,
        {"mode": mode, "cutoff": cutoff.isoformat(), "conversations": len(ids),
         **{f"erased_{k}": v for k, v in result.erasure.as_dict().items()}},
    )  # fmt: skip
    return result


async def _visitors_without(
    db: AsyncSession, visitor_ids: list[UUID], condition: ColumnElement[bool] | None
) -> list[UUID]:
    """Of these visitors, those with no conversation (matching ``condition``) left."""
    if not visitor_ids:
        return []
    inner = select(Conversation.id).where(Conversation.visitor_id == Visitor.id)
    if condition is not None:
        inner = inner.where(condition)
    query = select(Visitor.id).where(Visitor.id.in_(visitor_ids), ~exists(inner))
    return list(await db.scalars(query))
