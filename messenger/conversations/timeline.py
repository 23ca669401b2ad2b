"""Reading a conversation's messages, for the visitor or for staff.

Notes are staff-only *by construction*: every visitor-facing read (bootstrap, poll, stream
replay) goes through :func:`visitor_messages`, whose query admits only the kinds in
:data:`VISITOR_KINDS`. There is no parameter that could let a note through.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from messenger.db.models import Message, MessageKind

VISITOR_KINDS: tuple[MessageKind, ...] = (MessageKind.MESSAGE, MessageKind.EVENT)
#: What a message shows besides its columns, loaded with it wherever messages are listed.
SHOWN_WITH = (selectinload(Message.author), selectinload(Message.attachments))
#: The same for staff pages: the author joined (a staff page nearly always has operator
#: messages, so a separate SELECT of authors would be one more round trip each time).
STAFF_SHOWN_WITH = (joinedload(Message.author), selectinload(Message.attachments))
MAX_PAGE = 200


def is_visible_to_visitor(message: Message) -> bool:
    return message.kind in VISITOR_KINDS


async def visitor_messages(
    session: AsyncSession, conversation_id: UUID, *, after_id: int = 0, limit: int = MAX_PAGE
) -> list[Message]:
    """Messages the visitor may see, oldest first, with ids above ``after_id``."""
    result = await session.execute(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.id > after_id,
            Message.kind.in_(VISITOR_KINDS),
        )
        .options(*SHOWN_WITH)
        .order_by(Message.id)
        .limit(min(max(limit, 1), MAX_PAGE))
    )
    return list(result.scalars())


async def staff_messages(
    session: AsyncSession,
    conversation_id: UUID,
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[Message]:
    """A page of the whole timeline (notes included), oldest first.

    ``before_id`` pages backwards from the newest (how a long conversation opens fast);
    ``after_id`` reads forward (live catch-up).
    """
    limit = min(max(limit, 1), MAX_PAGE)
    query = (
        select(Message).where(Message.conversation_id == conversation_id).options(*STAFF_SHOWN_WITH)
    )
    if after_id is not None:
        query = query.where(Message.id > after_id).order_by(Message.id).limit(limit)
        return list((await session.execute(query)).scalars())
    if before_id is not None:
        query = query.where(Message.id < before_id)
    query = query.order_by(Message.id.desc()).limit(limit)
    return list(reversed((await session.execute(query)).scalars().all()))


async def newest_message_id(session: AsyncSession, conversation_id: UUID) -> int:
    """The id of the conversation's newest message of any kind (0 when it has none)."""
    newest = await session.scalar(
        select(func.max(Message.id)).where(Message.conversation_id == conversation_id)
    )
    return int(newest or 0)
