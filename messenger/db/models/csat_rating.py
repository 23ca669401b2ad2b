from __future__ import annotations

from uuid import UUID

from advanced_alchemy.base import BigIntAuditBase
from sqlalchemy import BigInteger, ForeignKey, SmallInteger, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column


class CsatRating(BigIntAuditBase):
    """A visitor's satisfaction rating (1..5) of one resolution of a conversation.

    A resolution is the ``status:resolved`` event message that ended it
    (``resolution_message_id``): one rating per resolution, a conversation resolved again
    later may be rated again.
    """

    __tablename__ = "csat_ratings"
    __table_args__ = (
        UniqueConstraint(
            "conversation_id", "resolution_message_id", name="uq_csat_ratings_resolution"
        ),
    )

    conversation_id: Mapped[UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    resolution_message_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("messages.id", ondelete="CASCADE")
    )
    rating: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text, default=None)
