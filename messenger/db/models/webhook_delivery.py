from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from advanced_alchemy.base import BigIntAuditBase
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from messenger.db.models.enums import enum_column


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(BigIntAuditBase):
    """One event for one endpoint, tried until a 2xx (delivered) or the retry window ends
    (failed). The body is fixed when the delivery is created, so every retry sends the same
    bytes under the same ``webhook-id``."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    )

    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[UUID] = mapped_column(GUID)
    event_type: Mapped[str] = mapped_column(String(64))
    #: ``{"type", "timestamp", "data"}``: what is sent, byte for byte, on every attempt.
    body: Mapped[dict[str, Any]] = mapped_column(JsonB)
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    locked_until: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    response_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
