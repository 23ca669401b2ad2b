from __future__ import annotations

from advanced_alchemy.base import BigIntAuditBase
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class SavedReply(BigIntAuditBase):
    """A prepared answer an operator inserts from the composer (``/shortcut``).

    Its scope is one of: *global* (no branch, no owner: every operator), *branch* (the
    members of ``branch_id``), *personal* (``owner_id`` only). Who sees which is
    :mod:`messenger.replies.service`'s rule.
    """

    __tablename__ = "saved_replies"
    __table_args__ = (
        CheckConstraint("branch_id IS NULL OR owner_id IS NULL", name="one_scope"),
        Index("ix_saved_replies_shortcut", "shortcut"),
    )

    shortcut: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    branch_id: Mapped[int | None] = mapped_column(
        ForeignKey("branches.id", ondelete="CASCADE"), default=None, index=True
    )
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None, index=True
    )
