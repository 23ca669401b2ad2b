from __future__ import annotations

from datetime import datetime

from advanced_alchemy.base import BigIntAuditBase, orm_registry
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from messenger.db.models.branch import Branch

api_token_branches = Table(
    "api_token_branches",
    orm_registry.metadata,
    Column("api_token_id", ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True),
    Column("branch_id", ForeignKey("branches.id", ondelete="CASCADE"), primary_key=True),
)


class ApiToken(BigIntAuditBase):
    """An integrator's key to the REST API (``/api/v1/``), created by an admin.

    Only the SHA-256 of the token is stored (``token_hash``); the token itself is shown once,
    when it is created. Its branch scope is its branches; none means every branch.
    """

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String(200))
    #: hex SHA-256 of the token (see messenger/api_tokens/service.py for why SHA-256).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The token's first characters, to tell tokens apart in lists (not a secret).
    prefix: Mapped[str] = mapped_column(String(16))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)

    # Loaded with the row: every authenticated call checks the scope.
    branches: Mapped[list[Branch]] = relationship(
        secondary=api_token_branches, lazy="selectin", order_by=Branch.id
    )

    @property
    def branch_ids(self) -> frozenset[int]:
        return frozenset(branch.id for branch in self.branches)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
