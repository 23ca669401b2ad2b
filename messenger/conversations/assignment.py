"""Auto-assignment: a new conversation goes to one of its branch's online operators who are
under their capacity (per the inbox's ``assignment.mode``), and an operator away for too long
gives back the conversations that wait for an answer.

Concurrency (several app processes, each taking first messages at once): the candidates'
user rows are locked (``FOR NO KEY UPDATE``, in id order, so two assigners never deadlock)
before their open conversations are counted, and stay locked until the caller's transaction
commits. A second assigner of the same operators waits, then counts what the first one
committed: a capacity is never exceeded, and the round-robin order (``last_assigned_at``)
moves on. The conversation itself is new in the caller's transaction: nobody else can
assign it. Returning to the pool is one conditional UPDATE per operator.

Nothing here commits; changes are recorded as events and published after the commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.events import DomainEvent, record
from messenger.db.models import (
    Conversation,
    ConversationStatus,
    Inbox,
    Message,
    MessageKind,
    MessageSender,
    User,
    user_branches,
)
from messenger.inboxes.settings import parse_settings
from messenger.presence import Presence

_OPEN = ConversationStatus.OPEN


def assignment_mode(inbox: Inbox) -> str:
    return parse_settings(inbox.settings).assignment.mode


async def open_counts(db: AsyncSession, user_ids: list[int]) -> dict[int, int]:
    """How many open conversations each of these users is assigned."""
    if not user_ids:
        return {}
    rows = await db.execute(
        select(Conversation.assignee_id, func.count())
        .where(Conversation.assignee_id.in_(user_ids), Conversation.status == _OPEN)
        .group_by(Conversation.assignee_id)
    )
    return {int(uid): int(n) for uid, n in rows.all() if uid is not None}


def _choose(mode: str, candidates: list[User], counts: dict[int, int]) -> User | None:
    """Among those under capacity: the one longest without an auto-assignment (round robin),
    or the one with the fewest open conversations, ties in round-robin order (least busy)."""
    free = [u for u in candidates if counts.get(u.id, 0) < u.capacity]
    if not free:
        return None

    def rotation(user: User) -> tuple[bool, datetime | None, int]:
        # Never assigned first, then the longest ago; the id settles the rest.
        return (user.last_assigned_at is not None, user.last_assigned_at, user.id)

    if mode == "least_busy":
        return min(free, key=lambda u: (counts.get(u.id, 0), *rotation(u)))
    return min(free, key=rotation)


async def auto_assign(
    db: AsyncSession,
    presence: Presence,
    conversation: Conversation,
    inbox: Inbox,
    now: datetime,
) -> User | None:
    """Assign a conversation that has just started, if its inbox says so and an online
    operator of its branch is under capacity; None: it stays unassigned (visible to all
    of the branch). Call it in the transaction that created the conversation."""
    mode = assignment_mode(inbox)
    if mode == "manual" or conversation.branch_id is None or conversation.assignee_id is not None:
        return None
    online = await presence.online_user_ids(conversation.branch_id)
    if not online:
        return None
    candidates = list(
        (
            await db.scalars(
                select(User)
                .join(user_branches, user_branches.c.user_id == User.id)
                .where(
                    user_branches.c.branch_id == conversation.branch_id,
                    User.id.in_(online),
                    User.is_active.is_(True),
                    User.capacity > 0,
                )
                .order_by(User.id)
                # Held until the commit: concurrent assigners of these operators queue here.
                .with_for_update(key_share=True, of=User)
                .execution_options(populate_existing=True)
            )
        ).unique()
    )
    chosen = _choose(mode, candidates, await open_counts(db, [u.id for u in candidates]))
    if chosen is None:
        return None
    chosen.last_assigned_at = now
    conversation.assignee_id = chosen.id
    await db.flush()
    record(db, _staff_event(conversation, conversation.branch_id, assignee=chosen.id))
    return chosen


def _staff_event(conversation: Conversation, branch_id: int | None, **data: object) -> DomainEvent:
    return DomainEvent(
        "status",
        conversation.id,
        conversation.visitor_id,
        branch_id,
        data={"conversation_id": str(conversation.id), **data},
        to_visitor=False,
    )


def _waiting_for_answer() -> ColumnElement[bool]:
    """The conversation's latest message (not a note or event) is the visitor's."""
    latest = (
        select(Message.sender)
        .where(Message.conversation_id == Conversation.id, Message.kind == MessageKind.MESSAGE)
        .order_by(Message.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return latest == MessageSender.VISITOR


async def return_offline_to_pool(
    db: AsyncSession, presence: Presence, now: datetime, offline_minutes: int
) -> int:
    """Unassign the open conversations waiting for an answer whose assignee has been
    offline ``offline_minutes`` or more; how many were returned. Idempotent and safe with
    several processes (a conditional UPDATE: a conversation answered, reassigned or
    closed meanwhile is left alone). An operator never seen online since the presence
    record was kept counts as away since the conversation's last change."""
    cutoff = now - timedelta(minutes=offline_minutes)
    assignees = [
        uid
        for uid in await db.scalars(
            select(Conversation.assignee_id)
            .where(Conversation.status == _OPEN, Conversation.assignee_id.is_not(None))
            .distinct()
        )
        if uid is not None
    ]
    if not assignees:
        return 0
    seen = await presence.seen_until(assignees)
    returned = 0
    for user_id in assignees:
        until = seen.get(user_id)
        if until is not None and until > cutoff.timestamp():
            continue  # online, or away for less than the limit
        conditions: list[ColumnElement[bool]] = [
            Conversation.assignee_id == user_id,
            Conversation.status == _OPEN,
            _waiting_for_answer(),
        ]
        if until is None:
            conditions.append(Conversation.updated_at <= cutoff)
        rows = await db.execute(
            update(Conversation)
            .where(and_(*conditions))
            .values(assignee_id=None, updated_at=now)
            .returning(Conversation.id, Conversation.visitor_id, Conversation.branch_id)
            .execution_options(synchronize_session=False)
        )
        for conversation_id, visitor_id, branch_id in rows.all():
            returned += 1
            record(
                db,
                DomainEvent(
                    "status",
                    conversation_id,
                    visitor_id,
                    branch_id,
                    data={"conversation_id": str(conversation_id), "assignee": None},
                    to_visitor=False,
                ),
            )
    return returned
