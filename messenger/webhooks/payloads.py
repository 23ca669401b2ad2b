"""What a webhook says: the ``data`` of each event, composed from the database once, when
the worker fans an outbox entry out to the endpoints (every retry sends the same body)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from messenger.conversations.timeline import SHOWN_WITH
from messenger.db.models import Conversation, Message, OutboxEntry, User


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def user_data(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "name": user.name, "email": user.email}


def conversation_data(conversation: Conversation) -> dict[str, Any]:
    visitor = conversation.visitor
    return {
        "id": str(conversation.id),
        "inbox_id": conversation.inbox_id,
        "branch_id": conversation.branch_id,
        "status": conversation.status.value,
        "priority": conversation.priority.value,
        "channel": conversation.channel.value,
        "assignee": user_data(conversation.assignee),
        "visitor": {
            "id": str(visitor.id),
            "name": visitor.name,
            "email": visitor.email,
            "phone": visitor.phone,
            "locale": visitor.locale,
        },
        "created_at": _iso(conversation.created_at),
        "last_activity_at": _iso(conversation.last_activity_at),
    }


def message_data(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": str(message.conversation_id),
        "sender": message.sender.value,
        "kind": message.kind.value,
        "body": message.body,
        "author": user_data(message.author),
        "client_msg_id": message.client_msg_id,
        "created_at": _iso(message.created_at),
        "attachments": [
            {
                "id": str(a.id),
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size_bytes,
            }
            for a in message.attachments
        ],
    }


async def load_conversation(session: AsyncSession, conversation_id: str) -> Conversation | None:
    found: Conversation | None = await session.scalar(
        select(Conversation)
        .where(Conversation.id == UUID(conversation_id))
        .options(selectinload(Conversation.visitor), selectinload(Conversation.assignee))
    )
    return found


async def event_data(
    session: AsyncSession, entry: OutboxEntry
) -> tuple[dict[str, Any], Conversation | None] | None:
    """The webhook ``data`` of ``entry`` and its conversation; None: nothing to say any
    more (the conversation or message was deleted meanwhile)."""
    facts = dict(entry.payload)
    conversation = None
    data: dict[str, Any] = {}
    if "conversation_id" in facts:
        conversation = await load_conversation(session, facts["conversation_id"])
        if conversation is None:
            return None
        data["conversation"] = conversation_data(conversation)
    topic = entry.topic
    if topic in ("message.created", "note.created"):
        message = await session.scalar(
            select(Message).where(Message.id == facts["message_id"]).options(*SHOWN_WITH)
        )
        if message is None:
            return None
        data["message"] = message_data(message)
    elif topic == "conversation.status_changed":
        data["status"] = facts["status"]
    elif topic == "conversation.assigned":
        assignee_id = facts.get("assignee_id")
        assignee = await session.get(User, assignee_id) if assignee_id is not None else None
        data["assignee"] = user_data(assignee)
    elif topic != "conversation.created":
        data.update({k: v for k, v in facts.items() if k != "conversation_id"})
    return data, conversation
