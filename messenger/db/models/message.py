from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.base import BigIntAuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from messenger.db.models.enums import MessageKind, MessageSender, enum_column
from messenger.db.models.user import User

_REPLIES = text("sender = 'operator' AND kind = 'message'")
_RESOLUTIONS = text("kind = 'event' AND body = 'status:resolved'")


class Message(BigIntAuditBase):
    """One entry of a conversation. Its integer id orders it (and is the SSE event id).

    Ids are handed out while the conversation row is locked (see
    ``ConversationService.append``), so within a conversation they also commit in order:
    "everything after id N" never skips a message that commits late.
    """

    __tablename__ = "messages"
    __table_args__ = (
        # Idempotency: one client_msg_id once per conversation (NULLs are distinct).
        UniqueConstraint("conversation_id", "client_msg_id", name="uq_messages_client_msg_id"),
        # Replay and poll: a conversation's messages after an id.
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        # Reports (messenger/reports/queries.py, migration 0010): first replies and
        # resolutions read from these partial indexes alone.
        Index(
            "ix_messages_operator_replies",
            "conversation_id",
            "id",
            postgresql_include=["created_at", "author_id"],
            postgresql_where=_REPLIES,
            sqlite_where=_REPLIES,
        ),
        Index(
            "ix_messages_resolutions",
            "conversation_id",
            "id",
            postgresql_include=["created_at"],
            postgresql_where=_RESOLUTIONS,
            sqlite_where=_RESOLUTIONS,
        ),
    )

    conversation_id: Mapped[UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    sender: Mapped[MessageSender] = mapped_column(enum_column(MessageSender, "message_sender"))
    kind: Mapped[MessageKind] = mapped_column(
        enum_column(MessageKind, "message_kind"), default=MessageKind.MESSAGE
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    #: Who wrote it when that was not a staff account: the API token's name (author_id NULL).
    author_name: Mapped[str | None] = mapped_column(String(200), default=None)
    body: Mapped[str] = mapped_column(Text, default="")
    client_msg_id: Mapped[str | None] = mapped_column(String(64), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)
    read_at: Mapped[datetime | None] = mapped_column(DateTimeUTC, default=None)

    author: Mapped[User | None] = relationship(lazy="raise")
    attachments: Mapped[list[Attachment]] = relationship(
        lazy="raise", order_by="Attachment.created_at"
    )

    @property
    def is_note(self) -> bool:
        return self.kind == MessageKind.NOTE


from messenger.db.models.attachment import Attachment  # noqa: E402
