from __future__ import annotations

from advanced_alchemy.base import BigIntAuditBase, orm_registry
from sqlalchemy import Column, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column

#: Which labels a conversation carries (many to many; the list filters on it).
conversation_labels = Table(
    "conversation_labels",
    orm_registry.metadata,
    Column(
        "conversation_id",
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("label_id", ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_conversation_labels_label", "label_id", "conversation_id"),
)


class Label(BigIntAuditBase):
    """An admin-defined, coloured tag of conversations, named in Russian and in English."""

    __tablename__ = "labels"

    name_ru: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(60))
    color: Mapped[str] = mapped_column(String(7), default="#64748b")

    def name_in(self, locale: str) -> str:
        """The name in ``locale`` (the other language's when this one is empty)."""
        if locale == "ru":
            return self.name_ru or self.name_en
        return self.name_en or self.name_ru
