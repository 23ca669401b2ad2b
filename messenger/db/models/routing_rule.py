from __future__ import annotations

from typing import Any

from advanced_alchemy.base import BigIntAuditBase
from advanced_alchemy.types import JsonB
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from messenger.db.models.branch import Branch


class RoutingRule(BigIntAuditBase):
    """For a global inbox: conditions that, when all hold, send a new conversation to a branch.

    Rules are tried by ascending ``position``; the first match wins.
    """

    __tablename__ = "routing_rules"
    __table_args__ = (Index("ix_routing_rules_inbox_position", "inbox_id", "position"),)

    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(200), default="")
    conditions: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    target_branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"))

    target_branch: Mapped[Branch] = relationship(lazy="raise")
