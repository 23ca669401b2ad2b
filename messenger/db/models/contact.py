from __future__ import annotations

from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column


class Contact(UUIDv7AuditBase):
    """A visitor the host site identified with a signed identity (INTEGRATIONS.md §1).

    Unique per inbox by ``identifier``. The contact speaks through one visitor row
    (``visitor_id``): every browser and device signed in as this contact gets a widget
    session of that visitor, so the conversation and its history follow the person.
    """

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("inbox_id", "identifier", name="uq_contacts_inbox_identifier"),
    )

    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    identifier: Mapped[str] = mapped_column(String(200))
    visitor_id: Mapped[UUID] = mapped_column(
        ForeignKey("visitors.id", ondelete="CASCADE"), unique=True
    )
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    phone: Mapped[str | None] = mapped_column(String(64), default=None)
