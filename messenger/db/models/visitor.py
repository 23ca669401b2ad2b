from __future__ import annotations

from datetime import datetime

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class Visitor(UUIDv7AuditBase):
    """Who writes from the widget. The row appears with the visitor's first message.

    Visitor-facing records have unguessable UUIDv7 keys; staff records have small integers.
    The client IP is not stored: only the location derived from it.
    """

    __tablename__ = "visitors"

    inbox_id: Mapped[int] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    phone: Mapped[str | None] = mapped_column(String(64), default=None)
    locale: Mapped[str | None] = mapped_column(String(16), default=None)
    country_code: Mapped[str | None] = mapped_column(String(2), default=None)
    country: Mapped[str | None] = mapped_column(String(100), default=None)
    city: Mapped[str | None] = mapped_column(String(100), default=None)
    # GeoIP names in Russian (``country``/``city`` hold the English ones): staff read the
    # place in their language, routing rules match either.
    country_ru: Mapped[str | None] = mapped_column(String(100), default=None)
    city_ru: Mapped[str | None] = mapped_column(String(100), default=None)
    page_url: Mapped[str | None] = mapped_column(Text, default=None)
    referrer: Mapped[str | None] = mapped_column(Text, default=None)
    user_agent: Mapped[str | None] = mapped_column(String(512), default=None)
    #: When the visitor ticked the pre-chat form's consent to the privacy policy.
    consent_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
