"""The one shape of a message outside the database: the Widget API's ``Message`` and what
every live stream carries. Realtime and the HTTP APIs both use these structs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from messenger.attachments.links import AttachmentLinks
from messenger.db.models import Conversation, Message, MessageKind


class Author(msgspec.Struct):
    name: str


class AttachmentOut(msgspec.Struct):
    id: str
    filename: str
    content_type: str
    size: int
    url: str


class MessageOut(msgspec.Struct):
    id: int
    conversation_id: str
    sender: Literal["visitor", "operator", "system"]
    body: str
    client_msg_id: str | None
    created_at: str
    delivered_at: str | None
    read_at: str | None
    author: Author | None
    attachments: list[AttachmentOut]
    # A note is not a Message here: staff-only by construction (see message_out).
    kind: Literal["message", "event"] = "message"


class ConversationOut(msgspec.Struct):
    id: str
    status: Literal["open", "pending", "resolved", "closed"]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def message_out(message: Message, links: AttachmentLinks) -> MessageOut:
    """The message as the APIs and streams show it (its author and attachments loaded).

    A note has no such shape: converting one raises, so no code path can hand a note to a
    visitor by mistake (staff read notes from the database, never from this shape).
    """
    if message.kind == MessageKind.NOTE:
        msg = "a note is never a Message of the Widget API"
        raise ValueError(msg)
    return MessageOut(
        id=message.id,
        conversation_id=str(message.conversation_id),
        sender=message.sender.value,
        # A note was refused above; mypy cannot narrow a mapped attribute by its value.
        kind=message.kind.value,  # type: ignore[arg-type]
        body=message.body,
        client_msg_id=message.client_msg_id,
        created_at=_iso(message.created_at) or "",
        delivered_at=_iso(message.delivered_at),
        read_at=_iso(message.read_at),
        author=_author(message),
        attachments=[
            AttachmentOut(
                id=str(a.id),
                filename=a.filename,
                content_type=a.content_type,
                size=a.size_bytes,
                url=links.url(a.id),
            )
            for a in message.attachments
        ],
    )


def _author(message: Message) -> Author | None:
    """The member of staff who wrote it, or the integration that signed it (its name)."""
    if message.author is not None:
        return Author(name=message.author.name)
    return Author(name=message.author_name) if message.author_name else None


def conversation_out(conversation: Conversation | None) -> ConversationOut | None:
    if conversation is None:
        return None
    return ConversationOut(id=str(conversation.id), status=conversation.status.value)
