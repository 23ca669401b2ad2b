from __future__ import annotations

from datetime import datetime

from advanced_alchemy.base import BigIntAuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column


class WorkerHeartbeat(BigIntAuditBase):
    """A worker process saying it is alive (``messenger check`` reads these)."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    started_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    beat_at: Mapped[datetime] = mapped_column(DateTimeUTC)
