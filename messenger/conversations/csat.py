"""Satisfaction ratings (CSAT, INTEGRATIONS.md §4): one per resolution of a conversation.

A *resolution* is the ``status:resolved`` event message an operator's resolve wrote; the
visitor may rate it once (a second rating is a conflict). Submitting records the domain
event ``csat.submitted`` on the session (staff screens redraw the rating live; the
webhooks' outbox takes it from there).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.events import about, record
from messenger.db.models import Conversation, ConversationStatus, CsatRating, Message, MessageKind
from messenger.errors import ConflictError
from messenger.i18n import N_

#: The event's name, as the webhooks contract spells it (INTEGRATIONS.md §3).
CSAT_SUBMITTED = "csat.submitted"
RESOLVED_BODY = f"status:{ConversationStatus.RESOLVED.value}"


async def last_resolution(db: AsyncSession, conversation_id: object) -> int | None:
    """The id of the conversation's latest ``status:resolved`` event message."""
    value = await db.scalar(
        select(func.max(Message.id)).where(
            Message.conversation_id == conversation_id,
            Message.kind == MessageKind.EVENT,
            Message.body == RESOLVED_BODY,
        )
    )
    return int(value) if value is not None else None


async def submit_rating(
    db: AsyncSession, conversation: Conversation, rating: int, comment: str | None
) -> CsatRating:
    """Rate the current resolution; 409 when the conversation is not resolved or this
    resolution was rated already. The conversation row is locked: two tabs submitting at
    once store one rating."""
    locked = await db.scalar(
        select(Conversation).where(Conversation.id == conversation.id).with_for_update()
    )
    if locked is None or locked.status != ConversationStatus.RESOLVED:
        raise ConflictError(N_("Only a resolved conversation can be rated."))
    resolution = await last_resolution(db, conversation.id)
    if resolution is None:
        raise ConflictError(N_("Only a resolved conversation can be rated."))
    exists = await db.scalar(
        select(CsatRating.id).where(
            CsatRating.conversation_id == conversation.id,
            CsatRating.resolution_message_id == resolution,
        )
    )
    if exists is not None:
        raise ConflictError(N_("This conversation has already been rated."))
    text = (comment or "").strip() or None
    row = CsatRating(
        conversation_id=conversation.id,
        resolution_message_id=resolution,
        rating=rating,
        comment=text,
    )
    db.add(row)
    await db.flush()
    data = {
        "id": row.id,
        "conversation_id": str(conversation.id),
        "rating": rating,
        "comment": text,
        "resolution_message_id": resolution,
        "created_at": row.created_at.isoformat(),
    }
    record(db, about(locked, "csat.submitted", data, to_visitor=False))
    return row


async def ratings_of(db: AsyncSession, conversation_id: object) -> list[CsatRating]:
    """The conversation's ratings, newest first (staff: the conversation's pane)."""
    return list(
        await db.scalars(
            select(CsatRating)
            .where(CsatRating.conversation_id == conversation_id)
            .order_by(CsatRating.id.desc())
        )
    )


#: The list's CSAT filter: its values and which ratings each admits (None: any rating).
CSAT_FILTERS: dict[str, tuple[int, ...] | None] = {
    "rated": None,
    "low": (1, 2),
    "neutral": (3,),
    "high": (4, 5),
}


def csat_condition(value: str) -> ColumnElement[bool] | None:
    """The list's filter on the conversation's ratings (``unrated``: none yet); None for
    an unknown value (no filter). An EXISTS on the rating's conversation index: the
    list's keyset order and paging are untouched."""
    if value == "unrated":
        return ~exists().where(CsatRating.conversation_id == Conversation.id)
    if value not in CSAT_FILTERS:
        return None
    query = exists().where(CsatRating.conversation_id == Conversation.id)
    ratings = CSAT_FILTERS[value]
    if ratings is not None:
        query = query.where(CsatRating.rating.in_(ratings))
    return query


async def latest_ratings(db: AsyncSession, conversation_ids: list[Any]) -> dict[Any, int]:
    """The latest rating of each of these conversations that has one (the list's column)."""
    if not conversation_ids:
        return {}
    newest = (
        select(func.max(CsatRating.id))
        .where(CsatRating.conversation_id.in_(conversation_ids))
        .group_by(CsatRating.conversation_id)
    )
    rows = await db.execute(
        select(CsatRating.conversation_id, CsatRating.rating).where(CsatRating.id.in_(newest))
    )
    return {cid: int(rating) for cid, rating in rows}
