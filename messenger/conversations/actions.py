"""What staff do to a conversation, with the live events each action owes.

Every method runs the domain rule (``ConversationService``), which commits, and then
publishes — commit first, publish second, always in this one place.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from messenger.conversations.service import ConversationService
from messenger.conversations.timeline import staff_messages
from messenger.db.models import (
    Conversation,
    ConversationPriority,
    ConversationStatus,
    Message,
    User,
)
from messenger.realtime.publisher import Publisher
from messenger.state import SharedState

TYPING_TTL_MS = 6_000


class StaffActions:
    def __init__(
        self, conversations: ConversationService, publisher: Publisher, state: SharedState
    ) -> None:
        self.conversations = conversations
        self.publisher = publisher
        self.state = state
        self.db = conversations.repository.session

    async def _published(self, conversation: Conversation, message: Message) -> Message:
        await self.db.refresh(message, attribute_names=["author", "attachments"])
        await self.publisher.message(conversation, message)
        return message

    async def reply(
        self, conversation: Conversation, author: User, body: str, client_msg_id: str | None = None
    ) -> tuple[Message, bool]:
        before = conversation.status
        message, created = await self.conversations.reply(conversation, author, body, client_msg_id)
        if created:
            if conversation.status != before:
                await self.publisher.status(conversation)
            await self._published(conversation, message)
        return message, created

    async def note(
        self, conversation: Conversation, author: User, body: str, client_msg_id: str | None = None
    ) -> Message:
        message = await self.conversations.add_note(conversation, author, body, client_msg_id)
        return await self._published(conversation, message)

    async def _after_event(self, conversation: Conversation, before_last: int | None) -> None:
        """Publish the event message an action appended (if it appended one)."""
        latest = await staff_messages(self.db, conversation.id, after_id=before_last or 0, limit=5)
        for message in latest:
            await self._published(conversation, message)

    async def _last_id(self, conversation: Conversation) -> int:
        value = await self.db.scalar(
            select(func.max(Message.id)).where(Message.conversation_id == conversation.id)
        )
        return int(value or 0)

    async def change_status(
        self, conversation: Conversation, status: ConversationStatus | str, actor: User
    ) -> Conversation:
        last = await self._last_id(conversation)
        before = conversation.status
        await self.conversations.change_status(conversation, status, actor)
        if conversation.status != before:
            await self.publisher.status(conversation)
            await self._after_event(conversation, last)
        return conversation

    async def set_priority(
        self, conversation: Conversation, priority: ConversationPriority | str, actor: User
    ) -> Conversation:
        await self.conversations.set_priority(conversation, priority, actor)
        await self.publisher.publish(
            conversation,
            "status",
            {"conversation_id": str(conversation.id), "priority": conversation.priority.value},
            to_visitor=False,
        )
        return conversation

    async def assign(
        self, conversation: Conversation, assignee_id: int, actor: User
    ) -> Conversation:
        last = await self._last_id(conversation)
        before = conversation.assignee_id
        await self.conversations.assign(conversation, assignee_id, actor)
        if conversation.assignee_id != before:
            await self._after_event(conversation, last)
        return conversation

    async def unassign(self, conversation: Conversation, actor: User) -> Conversation:
        await self.conversations.unassign(conversation, actor)
        await self.publisher.publish(
            conversation,
            "status",
            {"conversation_id": str(conversation.id), "assignee": None},
            to_visitor=False,
        )
        return conversation

    async def typing(self, conversation: Conversation, operator: User, typing: bool) -> None:
        key = f"typing:operator:{conversation.id}:{operator.id}"
        if typing:
            await self.state.put(key, b"1", TYPING_TTL_MS)
        else:
            await self.state.take(key)
        await self.publisher.typing(
            conversation, by_visitor=False, typing=typing, name=operator.name
        )

    async def mark_read(self, conversation: Conversation, up_to_id: int) -> None:
        before = conversation.operator_last_read_id
        marker = await self.conversations.mark_read_by_operator(conversation, up_to_id)
        if marker is not None and marker != before:
            await self.publisher.receipt(
                conversation, "read", marker, datetime.now(UTC), by="operator"
            )
