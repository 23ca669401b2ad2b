"""What the staff stream's ``notify`` event says to an operator: a visitor wrote in a
conversation that is theirs or nobody's yet (a new conversation included), in their scope.

The event's data is JSON with plain text only (the browser's Notification shows text, never
HTML): ``{"conversation_id", "url", "name", "text"}`` — the visitor's name (or e-mail;
null: unknown, the page says "Visitor" in the operator's language) and the first line of
the message (empty for a file alone). static/dashboard/notifications.js shows it when the
tab is hidden and plays the operator's sound.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from uuid import UUID

from litestar.response import ServerSentEventMessage
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.rules import can_see
from messenger.db.models import Conversation, User, Visitor
from messenger.realtime.events import Envelope

#: The longest first line a notification carries.
TEXT_LIMIT = 140


def first_line(body: str) -> str:
    line = next((part.strip() for part in body.splitlines() if part.strip()), "")
    return line if len(line) <= TEXT_LIMIT else line[: TEXT_LIMIT - 1] + "…"


def wants_notice(envelope: Envelope) -> bool:
    """A visitor's message (never an operator's, a note or an event)."""
    return (
        envelope.event == "message"
        and envelope.conversation_id is not None
        and envelope.data.get("sender") == "visitor"
    )


async def notice(
    sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    user: User,
    envelope: Envelope,
) -> ServerSentEventMessage | None:
    """The ``notify`` event for ``user``, or None: the conversation is someone else's (or
    out of their scope)."""
    if not wants_notice(envelope) or envelope.conversation_id is None:
        return None
    async with sessions() as db:
        row = (
            await db.execute(
                select(Conversation, Visitor.name, Visitor.email)
                .join(Visitor, Visitor.id == Conversation.visitor_id)
                .where(Conversation.id == UUID(envelope.conversation_id))
            )
        ).first()
    if row is None:
        return None
    conversation, name, email = row
    if not can_see(user, conversation) or conversation.assignee_id not in (None, user.id):
        return None
    data = {
        "conversation_id": str(conversation.id),
        "url": f"/conversations/{conversation.id}",
        "name": name or email or None,
        "text": first_line(str(envelope.data.get("body") or "")),
        "message_id": envelope.id,
    }
    return ServerSentEventMessage(event="notify", data=json.dumps(data, ensure_ascii=False))
