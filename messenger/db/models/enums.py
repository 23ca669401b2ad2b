"""The closed vocabularies of the domain, stored as short strings with a CHECK constraint."""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa


class UserRole(StrEnum):
    OPERATOR = "operator"
    ADMIN = "admin"


class ConversationStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ConversationPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class ConversationChannel(StrEnum):
    """How the conversation began: a live chat, or the offline form."""

    CHAT = "chat"
    OFFLINE_FORM = "offline_form"


class MessageSender(StrEnum):
    VISITOR = "visitor"
    OPERATOR = "operator"
    SYSTEM = "system"


class MessageKind(StrEnum):
    MESSAGE = "message"
    NOTE = "note"  # internal: never leaves the staff side
    EVENT = "event"


def enum_column(enum: type[StrEnum], name: str) -> sa.Enum:
    """A portable enum column: VARCHAR + CHECK on every database, values (not names) stored."""
    return sa.Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )
