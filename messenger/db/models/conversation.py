from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from messenger.db.models.branch import Branch
from messenger.db.models.enums import (
    ConversationChannel,
    ConversationPriority,
    ConversationStatus,
    enum_column,
)
from messenger.db.models.inbox import Inbox
from messenger.db.models.user import User
from messenger.db.models.visitor import Visitor


def _now() -> datetime:
    return datetime.now(UTC)


_UNASSIGNED = text("assignee_id IS NULL")


def _list_indexes() -> tuple[Index, ...]:
    def partial(name: str, *columns: str) -> Index:
        return Index(name, *columns, postgresql_where=_UNASSIGNED, sqlite_where=_UNASSIGNED)

    order = ("last_activity_at", "id")
    counted: dict[str, Any] = {"postgresql_include": ["assignee_id"]}
    return (
        Index("ix_conversations_activity_id", *order),
        # The view counts read the assignee from these (index-only on PostgreSQL).
        Index("ix_conversations_status_activity_id", "status", *order, **counted),
        Index("ix_conversations_branch_activity_id", "branch_id", *order),
        Index(
            "ix_conversations_branch_status_activity_id", "branch_id", "status", *order, **counted
        ),
        Index("ix_conversations_assignee_activity_id", "assignee_id", "status", *order),
        partial("ix_conversations_unassigned_activity_id", "status", *order),
        partial("ix_conversations_branch_unassigned_activity_id", "branch_id", "status", *order),
    )


class Conversation(UUIDv7AuditBase):
    """A visitor's thread in an inbox, routed to a branch, maybe assigned to an operator."""

    __tablename__ = "conversations"
    __table_args__ = (
        # Every widget call's first step: the visitor's latest conversation, in this
        # index's own order (migration 0012).
        Index("ix_conversations_visitor_latest", "visitor_id", "inbox_id", "created_at", "id"),
        # The snooze wake-up reads the snoozed ones only (migration 0005).
        Index(
            "ix_conversations_snoozed_until",
            "snoozed_until",
            postgresql_where=text("snoozed_until IS NOT NULL"),
            sqlite_where=text("snoozed_until IS NOT NULL"),
        ),
        # The unified messenger's list: keyset pages, (last_activity_at, id) newest first,
        # per view, branch and status (migration 0004, which replaced the older two).
        *_list_indexes(),
    )

    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"), index=True)
    branch_id: Mapped[int | None] = mapped_column(
        ForeignKey("branches.id", ondelete="SET NULL"), default=None
    )
    visitor_id: Mapped[UUID] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"))
    channel: Mapped[ConversationChannel] = mapped_column(
        enum_column(ConversationChannel, "conversation_channel"), default=ConversationChannel.CHAT
    )
    status: Mapped[ConversationStatus] = mapped_column(
        enum_column(ConversationStatus, "conversation_status"), default=ConversationStatus.OPEN
    )
    priority: Mapped[ConversationPriority] = mapped_column(
        enum_column(ConversationPriority, "conversation_priority"),
        default=ConversationPriority.NORMAL,
    )
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    # Read markers: the highest message id each side has read.
    visitor_last_read_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    operator_last_read_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_activity_at: Mapped[datetime] = mapped_column(DateTimeUTC, default=_now)
    #: Snoozed: pending until this moment, then open again (messenger/conversations/snooze.py).
    snoozed_until: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    #: When the visitor's content was erased (an erasure or retention); the row stays for
    #: statistics (messenger/privacy/).
    erased_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)

    # Relationships are loaded where a query says so (selectinload/joinedload), never by
    # default: a forgotten load raises instead of costing a query per row.
    inbox: Mapped[Inbox] = relationship(lazy="raise")
    branch: Mapped[Branch | None] = relationship(lazy="raise")
    visitor: Mapped[Visitor] = relationship(lazy="raise")
    assignee: Mapped[User | None] = relationship(lazy="raise")
