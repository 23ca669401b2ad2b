"""Publishing domain events. Always called *after* the database commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar.channels import ChannelsPlugin

from messenger.conversations.timeline import is_visible_to_visitor
from messenger.db.models import Conversation, Message
from messenger.realtime.events import (
    Envelope,
    EventName,
    encode,
    staff_all_channel,
    staff_branch_channel,
    visitor_channel,
)
from messenger.widget.links import AttachmentLinks


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def message_payload(message: Message, links: AttachmentLinks) -> dict[str, Any]:
    """The Widget API's Message object (also what staff streams carry)."""
    return {
        "id": message.id,
        "conversation_id": str(message.conversation_id),
        "sender": message.sender.value,
        "kind": message.kind.value,
        "body": message.body,
        "client_msg_id": message.client_msg_id,
        "created_at": _iso(message.created_at),
        "delivered_at": _iso(message.delivered_at),
        "read_at": _iso(message.read_at),
        "author": {"name": message.author.name} if message.author is not None else None,
        "attachments": [
            {
                "id": str(a.id),
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size_bytes,
                "url": links.url(a.id),
            }
            for a in message.attachments
        ],
    }


class Publisher:
    def __init__(self, channels: ChannelsPlugin, prefix: str, links: AttachmentLinks) -> None:
        self._channels = channels
        self._prefix = prefix
        self._links = links

    def _staff_channels(self, branch_id: int | None) -> list[str]:
        names = [staff_all_channel(self._prefix)]
        if branch_id is not None:
            names.append(staff_branch_channel(self._prefix, branch_id))
        return names

    async def publish(
        self,
        conversation: Conversation,
        event: EventName,
        data: dict[str, Any],
        *,
        event_id: int | None = None,
        to_visitor: bool = True,
        to_staff: bool = True,
    ) -> None:
        channels: list[str] = []
        if to_staff:
            channels += self._staff_channels(conversation.branch_id)
        if to_visitor:
            channels.append(visitor_channel(self._prefix, conversation.visitor_id))
        if not channels:
            return
        audience = "both" if to_visitor and to_staff else ("visitor" if to_visitor else "staff")
        envelope = Envelope(
            event=event,
            data=data,
            visitor_id=str(conversation.visitor_id),
            conversation_id=str(conversation.id),
            branch_id=conversation.branch_id,
            id=event_id,
            audience=audience,
        )
        await self._channels.wait_published(encode(envelope), channels)

    async def message(self, conversation: Conversation, message: Message) -> None:
        """A new message: to staff always; to the visitor only if the visitor may see it.

        This is the one place a message is published; a note can never reach a visitor
        stream because :func:`is_visible_to_visitor` is checked here.
        """
        await self.publish(
            conversation,
            "message",
            message_payload(message, self._links),
            event_id=message.id,
            to_visitor=is_visible_to_visitor(message),
        )

    async def typing(
        self, conversation: Conversation, *, by_visitor: bool, typing: bool, name: str | None = None
    ) -> None:
        data = {"typing": typing, "sender": "visitor" if by_visitor else "operator"}
        if name is not None:
            data["author"] = {"name": name}
        await self.publish(
            conversation, "typing", data, to_visitor=not by_visitor, to_staff=by_visitor
        )

    async def receipt(
        self, conversation: Conversation, kind: str, up_to_id: int, at: datetime, *, by: str
    ) -> None:
        """``kind`` delivered/read, ``by`` the side that received or read. Delivered and read
        by the visitor concern staff; read by an operator also shows as ticks in the widget."""
        data = {
            "kind": kind,
            "by": by,
            "up_to_id": up_to_id,
            "at": at.isoformat(),
            "conversation_id": str(conversation.id),
        }
        await self.publish(conversation, "receipt", data, to_visitor=by == "operator")

    async def status(self, conversation: Conversation) -> None:
        data = {"conversation_id": str(conversation.id), "status": conversation.status.value}
        await self.publish(conversation, "status", data)
