"""The unified messenger's conversation list: filters, scope, previews and unread counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from messenger.conversations.service import scope_query
from messenger.db.models import (
    Conversation,
    ConversationPriority,
    ConversationStatus,
    Message,
    MessageKind,
    MessageSender,
    User,
    Visitor,
)

PAGE_SIZE = 50
VIEWS = ("mine", "unassigned", "all")


@dataclass(frozen=True, slots=True)
class ConversationFilters:
    view: str = "all"  # mine | unassigned | all
    status: str | None = "open"  # None: any status
    inbox_id: int | None = None
    branch_id: int | None = None
    priority: str | None = None
    search: str = ""


@dataclass(slots=True)
class ConversationRow:
    conversation: Conversation
    preview: Message | None = None
    unread: int = 0
    extra: dict[str, object] = field(default_factory=dict)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(user: User, filters: ConversationFilters) -> Select[tuple[Conversation]]:
    query = scope_query(select(Conversation), user)
    if filters.view == "mine":
        query = query.where(Conversation.assignee_id == user.id)
    elif filters.view == "unassigned":
        query = query.where(Conversation.assignee_id.is_(None))
    if filters.status in {s.value for s in ConversationStatus}:
        query = query.where(Conversation.status == filters.status)
    if filters.priority in {p.value for p in ConversationPriority}:
        query = query.where(Conversation.priority == filters.priority)
    if filters.inbox_id is not None:
        query = query.where(Conversation.inbox_id == filters.inbox_id)
    if filters.branch_id is not None:
        query = query.where(Conversation.branch_id == filters.branch_id)
    text = filters.search.strip()
    if text:
        pattern = "%" + _escape_like(text) + "%"
        visitor_match = select(Visitor.id).where(
            Visitor.id == Conversation.visitor_id,
            or_(
                Visitor.name.ilike(pattern, escape="\\"),
                Visitor.email.ilike(pattern, escape="\\"),
                Visitor.phone.ilike(pattern, escape="\\"),
            ),
        )
        message_match = select(Message.id).where(
            Message.conversation_id == Conversation.id,
            Message.kind != MessageKind.EVENT,
            Message.body.ilike(pattern, escape="\\"),
        )
        query = query.where(or_(visitor_match.exists(), message_match.exists()))
    return query


async def list_conversations(
    session: AsyncSession, user: User, filters: ConversationFilters, limit: int = PAGE_SIZE
) -> list[ConversationRow]:
    """A page of conversations the user may see, newest activity first, with the last
    message and the number of visitor messages no operator has read yet."""
    query = (
        _filtered(user, filters)
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(limit)
        # A row shows who wrote, where (inbox, branch) and to whom it is assigned.
        .options(
            joinedload(Conversation.visitor),
            joinedload(Conversation.inbox),
            joinedload(Conversation.branch),
            joinedload(Conversation.assignee),
        )
    )
    conversations = list((await session.execute(query)).scalars())
    if not conversations:
        return []
    ids = [c.id for c in conversations]
    last_ids = (
        select(Message.conversation_id, func.max(Message.id).label("last_id"))
        .where(Message.conversation_id.in_(ids), Message.kind != MessageKind.EVENT)
        .group_by(Message.conversation_id)
        .subquery()
    )
    previews = {
        m.conversation_id: m
        for m in (
            await session.execute(select(Message).join(last_ids, Message.id == last_ids.c.last_id))
        ).scalars()
    }
    unread_rows = await session.execute(
        select(Message.conversation_id, func.count(Message.id))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.conversation_id.in_(ids),
            Message.sender == MessageSender.VISITOR,
            and_(Message.id > func.coalesce(Conversation.operator_last_read_id, 0)),
        )
        .group_by(Message.conversation_id)
    )
    unread: dict[UUID, int] = {cid: int(n) for cid, n in unread_rows.all()}
    return [
        ConversationRow(conversation=c, preview=previews.get(c.id), unread=unread.get(c.id, 0))
        for c in conversations
    ]


async def unread_total(session: AsyncSession, user: User) -> int:
    """Unread visitor messages across every open or pending conversation the user sees."""
    query = (
        scope_query(select(func.count(Message.id)), user)
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.sender == MessageSender.VISITOR,
            Message.id > func.coalesce(Conversation.operator_last_read_id, 0),
            Conversation.status.in_([ConversationStatus.OPEN, ConversationStatus.PENDING]),
        )
    )
    return int(await session.scalar(query) or 0)


async def earlier_conversations(
    session: AsyncSession, user: User, conversation: Conversation, limit: int = 10
) -> list[Conversation]:
    query = (
        scope_query(select(Conversation), user)
        .where(
            Conversation.visitor_id == conversation.visitor_id,
            Conversation.id != conversation.id,
        )
        .order_by(Conversation.created_at.desc())
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())
