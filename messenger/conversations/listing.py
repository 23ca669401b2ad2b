"""The unified messenger's conversation list: filters, scope, keyset pages, previews, unread
counts and the count of each view.

Pages are keyset pages on ``(last_activity_at, id)``, newest first: a page after a cursor
never repeats or skips a conversation when new ones arrive meanwhile (they go above the
first page, where the live list adds them). Text search lives in ``search.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from messenger.conversations.actors import Actor
from messenger.conversations.csat import csat_condition, latest_ratings
from messenger.conversations.rules import scope_query
from messenger.db.models import (
    Conversation,
    ConversationPriority,
    ConversationStatus,
    Label,
    Message,
    MessageKind,
    MessageSender,
    User,
    Visitor,
    conversation_labels,
)
from messenger.errors import InvalidInputError
from messenger.i18n import N_

PAGE_SIZE = 50
#: PostgreSQL keeps each conversation's unread count (triggers of migration 0004); it is
#: read as a plain column, never as a model attribute that could go stale in a session.
UNREAD_COUNT = literal_column("conversations.unread_count", Integer)
VIEWS = ("mine", "unassigned", "all")


@dataclass(frozen=True, slots=True)
class ConversationFilters:
    view: str = "all"  # mine | unassigned | all
    status: str | None = "open"  # None: any status
    inbox_id: int | None = None
    branch_id: int | None = None
    assignee_id: int | None = None
    priority: str | None = None
    label_id: int | None = None
    search: str = ""
    #: Satisfaction: rated | unrated | low | neutral | high (see ``csat.CSAT_FILTERS``).
    csat: str | None = None
    #: Keyset cursors: rows older than ``before`` (the next page), newer than ``after``
    #: (what the live list adds on top).
    before: Cursor | None = None
    after: Cursor | None = None


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in the list's order: ``(last_activity_at, id)``."""

    at: datetime
    id: UUID

    def encode(self) -> str:
        return f"{self.at.isoformat()}~{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """A cursor from a page's link; a malformed one is the client's error (400)."""
        at, _, raw_id = text.partition("~")
        try:
            moment = datetime.fromisoformat(at)
            if moment.tzinfo is None:
                raise ValueError(at)
            return cls(at=moment, id=UUID(raw_id))
        except ValueError:
            raise InvalidInputError(N_("This page link is not valid.")) from None

    @classmethod
    def of(cls, conversation: Conversation) -> Cursor:
        return cls(at=conversation.last_activity_at, id=conversation.id)


@dataclass(slots=True)
class ConversationRow:
    conversation: Conversation
    preview: Message | None = None
    unread: int = 0
    extra: dict[str, object] = field(default_factory=dict)
    labels: list[Label] = field(default_factory=list)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filtered(
    user: Actor, filters: ConversationFilters, *, view: bool = True
) -> Select[tuple[Conversation]]:
    """The conversations ``user`` may see (scope_query), narrowed by the filters (and by the
    view unless ``view`` is False), text search aside."""
    query = scope_query(select(Conversation), user)
    if view:
        query = _in_view(query, user, filters.view)
    if filters.status in {s.value for s in ConversationStatus}:
        query = query.where(Conversation.status == filters.status)
    if filters.priority in {p.value for p in ConversationPriority}:
        query = query.where(Conversation.priority == filters.priority)
    if filters.inbox_id is not None:
        query = query.where(Conversation.inbox_id == filters.inbox_id)
    if filters.branch_id is not None:
        query = query.where(Conversation.branch_id == filters.branch_id)
    if filters.assignee_id is not None:
        query = query.where(Conversation.assignee_id == filters.assignee_id)
    if filters.csat and (rated := csat_condition(filters.csat)) is not None:
        query = query.where(rated)
    if filters.label_id is not None:
        # A plain condition: the keyset order and cursors are the same with it.
        labelled = select(conversation_labels.c.conversation_id).where(
            conversation_labels.c.conversation_id == Conversation.id,
            conversation_labels.c.label_id == filters.label_id,
        )
        query = query.where(labelled.exists())
    return query


def _in_view(
    query: Select[tuple[Conversation]], user: Actor, view: str
) -> Select[tuple[Conversation]]:
    if view == "mine":  # an integration is never an assignee: nothing is its own
        return query.where(Conversation.assignee_id == user.id if user.id else false())
    if view == "unassigned":
        return query.where(Conversation.assignee_id.is_(None))
    return query


def with_row_options(query: Select[tuple[Conversation]]) -> Select[tuple[Conversation]]:
    """A row shows who wrote, where (inbox, branch) and to whom it is assigned."""
    return query.options(
        joinedload(Conversation.visitor),
        joinedload(Conversation.inbox),
        joinedload(Conversation.branch),
        joinedload(Conversation.assignee),
    )


def ilike_match(text: str) -> ColumnElement[bool] | None:
    """The embedded (SQLite) search: a case-insensitive substring of the visitor's name,
    e-mail or phone, or of a message or note; None for an empty text."""
    text = text.strip()
    if not text:
        return None
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
    return or_(visitor_match.exists(), message_match.exists())


async def list_conversations(
    session: AsyncSession, user: Actor, filters: ConversationFilters, limit: int = PAGE_SIZE
) -> list[ConversationRow]:
    """A keyset page of conversations the user may see, newest activity first (after
    ``filters.before``, or above ``filters.after``), with the last message and the number
    of visitor messages no operator has read yet."""
    order = (Conversation.last_activity_at, Conversation.id)
    query = filtered(user, filters)
    if filters.before is not None:
        query = query.where(tuple_(*order) < _at(filters.before))
    if filters.after is not None:
        query = query.where(tuple_(*order) > _at(filters.after))
    query = query.order_by(order[0].desc(), order[1].desc()).limit(limit)
    conversations = list((await session.execute(with_row_options(query))).scalars())
    return await load_rows(session, conversations)


def _counted(session: AsyncSession) -> bool:
    """Whether the database keeps unread counts (PostgreSQL) or they are counted (SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def _at(cursor: Cursor) -> ColumnElement[Any]:
    return tuple_(
        literal(cursor.at, Conversation.last_activity_at.type),
        literal(cursor.id, Conversation.id.type),
    )


async def load_rows(
    session: AsyncSession, conversations: list[Conversation]
) -> list[ConversationRow]:
    """The rows of these conversations (in this order): last message and unread count."""
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
    if _counted(session):
        unread_query = select(Conversation.id, UNREAD_COUNT).where(Conversation.id.in_(ids))
    else:
        unread_query = (
            select(Message.conversation_id, func.count(Message.id))
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Message.conversation_id.in_(ids),
                Message.sender == MessageSender.VISITOR,
                and_(Message.id > func.coalesce(Conversation.operator_last_read_id, 0)),
            )
            .group_by(Message.conversation_id)
        )
    unread: dict[UUID, int] = {cid: int(n) for cid, n in (await session.execute(unread_query))}
    ratings = await latest_ratings(session, ids)
    labels = await labels_by_conversation(session, ids)
    return [
        ConversationRow(
            conversation=c,
            preview=previews.get(c.id),
            unread=unread.get(c.id, 0),
            extra={"csat": ratings[c.id]} if c.id in ratings else {},
            labels=labels.get(c.id, []),
        )
        for c in conversations
    ]


async def labels_by_conversation(session: AsyncSession, ids: list[UUID]) -> dict[UUID, list[Label]]:
    found: dict[UUID, list[Label]] = {}
    rows = await session.execute(
        select(conversation_labels.c.conversation_id, Label)
        .join(Label, Label.id == conversation_labels.c.label_id)
        .where(conversation_labels.c.conversation_id.in_(ids))
        .order_by(Label.name_en, Label.id)
    )
    for conversation_id, label in rows.all():
        found.setdefault(conversation_id, []).append(label)
    return found


async def changed_rows(
    session: AsyncSession,
    user: User,
    filters: ConversationFilters,
    since: datetime,
    lowest: Cursor,
    *,
    shown: set[UUID],
    limit: int = PAGE_SIZE,
) -> tuple[list[ConversationRow], list[UUID]]:
    """What changed since ``since`` among the conversations from ``lowest`` up (what a live
    list shows): the rows that still match the filters, to redraw in place (except the
    ``shown`` ones, already on top), and the ids of those that no longer match."""
    order = (Conversation.last_activity_at, Conversation.id)
    candidates = (
        scope_query(select(Conversation), user)
        .where(Conversation.updated_at > since, tuple_(*order) >= _at(lowest))
        .order_by(order[0].desc(), order[1].desc())
        .limit(limit)
    )
    ids = [c for c in (await session.scalars(candidates.with_only_columns(Conversation.id)))]
    if not ids:
        return [], []
    matching = filtered(user, filters).where(Conversation.id.in_(ids))
    still = {c.id: c for c in (await session.execute(with_row_options(matching))).scalars()}
    redraw = [still[cid] for cid in ids if cid in still and cid not in shown]
    return await load_rows(session, redraw), [cid for cid in ids if cid not in still]


async def view_counts(
    session: AsyncSession, user: User, filters: ConversationFilters
) -> dict[str, int]:
    """How many conversations each view (mine, unassigned, all) holds under the filters."""
    base = filtered(user, filters, view=False).subquery()
    row = (
        await session.execute(
            select(
                func.count().filter(base.c.assignee_id == user.id),
                func.count().filter(base.c.assignee_id.is_(None)),
                func.count(),
            ).select_from(base)
        )
    ).one()
    return dict(zip(VIEWS, (int(n) for n in row), strict=True))


async def unread_total(session: AsyncSession, user: User) -> int:
    """Unread visitor messages across every open or pending conversation the user sees."""
    waiting = Conversation.status.in_([ConversationStatus.OPEN, ConversationStatus.PENDING])
    if _counted(session):
        # unread_count > 0 changes no sum: it lets the planner use the partial index.
        total = scope_query(select(Conversation), user).where(waiting, UNREAD_COUNT > 0)
        summed = total.with_only_columns(func.coalesce(func.sum(UNREAD_COUNT), 0))
        return int(await session.scalar(summed.select_from(Conversation)) or 0)
    query = (
        scope_query(select(func.count(Message.id)), user)
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.sender == MessageSender.VISITOR,
            Message.id > func.coalesce(Conversation.operator_last_read_id, 0),
            waiting,
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
