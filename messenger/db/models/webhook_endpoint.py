from __future__ import annotations

from datetime import datetime

from advanced_alchemy.base import BigIntAuditBase
from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class WebhookEndpoint(BigIntAuditBase):
    """A URL an admin registered to be told of events (INTEGRATIONS.md §3)."""

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(Text)
    #: ``whsec_…`` (the Standard Webhooks form); shown to admins, never logged.
    secret: Mapped[str] = mapped_column(String(128))
    #: The event types it wants; empty: all of them.
    events: Mapped[list[str]] = mapped_column(JsonB, default=list)
    #: Only events of this inbox; None: every inbox.
    inbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("inboxes.id", ondelete="CASCADE"), default=None
    )
    description: Mapped[str | None] = mapped_column(String(200), default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Failed attempts in a row (any delivery); a success resets it.
    failure_streak: Mapped[int] = mapped_column(Integer, default=0)
    #: Set when the worker switched the endpoint off after a failure streak.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    disabled_reason: Mapped[str | None] = mapped_column(String(200), default=None)
