from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from advanced_alchemy.base import BigIntAuditBase
from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from messenger.db.models.branch import Branch


def new_identity_secret() -> str:
    """The key of an inbox's signed visitor identities (HMAC-SHA256), 256 random bits."""
    return secrets.token_hex(32)


class Inbox(BigIntAuditBase):
    """One site or channel. ``branch_id`` None means a *global* inbox, routed by rules."""

    __tablename__ = "inboxes"

    name: Mapped[str] = mapped_column(String(200))
    widget_token: Mapped[str] = mapped_column(String(64), unique=True)
    branch_id: Mapped[int | None] = mapped_column(
        ForeignKey("branches.id", ondelete="RESTRICT"), default=None, index=True
    )
    fallback_branch_id: Mapped[int | None] = mapped_column(
        ForeignKey("branches.id", ondelete="SET NULL"), default=None
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    #: Signs visitor identities (INTEGRATIONS.md §1); shown to admins, never to browsers.
    identity_secret: Mapped[str] = mapped_column(String(64), default=new_identity_secret)
    is_active: Mapped[bool] = mapped_column(default=True)
    token_rotated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    #: Widget sessions issued up to this time (whole seconds) are no longer valid.
    sessions_revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)

    def session_revoked(self, issued_at: int) -> bool:
        """A session issued at ``issued_at`` (epoch seconds) was ended by a token rotation.

        Session tokens carry whole seconds: one issued in the very second of the rotation
        counts as revoked too (after a rotation nobody holds the new token that soon)."""
        revoked = self.sessions_revoked_at
        return revoked is not None and issued_at <= int(revoked.timestamp())

    branch: Mapped[Branch | None] = relationship(foreign_keys=[branch_id], lazy="raise")
    fallback_branch: Mapped[Branch | None] = relationship(
        foreign_keys=[fallback_branch_id], lazy="raise"
    )

    @property
    def is_global(self) -> bool:
        return self.branch_id is None
