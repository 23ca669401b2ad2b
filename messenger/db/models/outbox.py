from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from advanced_alchemy.base import BigIntAuditBase
from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from messenger.db.models.enums import enum_column


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class OutboxEntry(BigIntAuditBase):
    """A job that must not be lost: written in the same transaction as the change that
    caused it, and carried out by the worker (``messenger worker``) at least once.

    ``topic`` says what it is: an event of the webhook list (``message.created``, …), then
    fanned out to webhook deliveries and e-mails; or a job of its own (``mail.reply``,
    ``mail.transcript``). ``event_id`` is the event's stable id (the ``webhook-id``).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        # The worker's claim: due pending entries, oldest first.
        Index("ix_outbox_status_available_at", "status", "available_at"),
    )

    topic: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[UUID] = mapped_column(GUID, default=uuid4, unique=True)
    inbox_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Not before this time (retries back off; some jobs wait on purpose).
    available_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    #: A worker holds the entry until then; a worker that died lets it go at that time.
    locked_until: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
