from __future__ import annotations

from datetime import datetime

from advanced_alchemy.base import BigIntAuditBase, orm_registry
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Column, ForeignKey, String, Table, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from messenger.db.models.branch import Branch
from messenger.db.models.enums import UserRole, enum_column

user_branches = Table(
    "user_branches",
    orm_registry.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("branch_id", ForeignKey("branches.id", ondelete="CASCADE"), primary_key=True),
)


class User(BigIntAuditBase):
    """A member of staff: an operator, or an admin (who also sees every branch)."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[UserRole] = mapped_column(
        enum_column(UserRole, "user_role"), default=UserRole.OPERATOR
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(String(8), default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Bumped on a password change: every session signed in under an older epoch ends.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    #: The most open conversations auto-assignment gives this operator (0: none).
    capacity: Mapped[int] = mapped_column(default=10, server_default="10")
    #: When auto-assignment last gave this operator a conversation (round-robin order).
    last_assigned_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    # The operator's choice: a sound with each notification (static/dashboard/notifications.js).
    notification_sound: Mapped[bool] = mapped_column(default=True, server_default=true())

    # The one relationship loaded with its row: a user is always used with its branch scope
    # (every permission check reads ``branch_ids``), so it comes in the same round trip.
    branches: Mapped[list[Branch]] = relationship(
        secondary=user_branches, lazy="selectin", order_by=Branch.id
    )

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN

    @property
    def branch_ids(self) -> set[int]:
        return {branch.id for branch in self.branches}
