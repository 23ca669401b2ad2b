from __future__ import annotations

from datetime import datetime
from typing import Any

from advanced_alchemy.base import BigIntBase
from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column


class AuditEntry(BigIntBase):
    """One staff action that changed configuration or access (issue 17): who, when, from
    where, what changed. Written in the transaction of the change, never updated; only the
    retention prune (``MESSENGER_AUDIT_RETENTION_DAYS``) deletes rows. Secrets never reach
    it (:func:`messenger.db.audit.redact`)."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_action_at", "action", "at"),
        Index("ix_audit_entries_actor_id_at", "actor_id", "at"),
    )

    at: Mapped[datetime] = mapped_column(DateTimeUTC)
    #: The staff account (None: the command line, or a sign-in with an unknown address).
    actor_id: Mapped[int | None] = mapped_column(default=None)
    #: The e-mail at the time ("cli" for the command line): stays after the account changes.
    actor_email: Mapped[str] = mapped_column(String(320))
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Dotted name: ``inbox.settings``, ``operator.create``, ``auth.sign_in_failed`` …
    action: Mapped[str] = mapped_column(String(64))
    #: What it was done to: ``inbox:3``, ``visitor:…``.
    target: Mapped[str | None] = mapped_column(String(200), default=None)
    #: ``{"before": …, "after": …}`` for settings, other details otherwise; secrets redacted.
    changes: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
