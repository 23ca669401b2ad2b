"""What staff do to a conversation: the domain rules plus the ephemeral typing signal.

Nothing here publishes or commits: every change is recorded as a domain event on the
session, and the request's unit of work commits and then publishes
(:mod:`messenger.realtime.transaction`).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.orm.attributes import set_committed_value

from messenger.attachments.staff import link_staff_uploads
from messenger.conversations.actors import Actor
from messenger.conversations.service import ConversationService
from messenger.db.events import AnySession, DomainEvent, about, record
from messenger.db.models import (
    Conversation,
    ConversationPriority,
    ConversationStatus,
    Message,
    User,
)
from messenger.errors import InvalidInputError
from messenger.i18n import N_
from messenger.state import SharedState

TYPING_TTL_MS = 6_000


async def set_typing(
    state: SharedState,
    session: AnySession,
    conversation: Conversation,
    *,
    by_visitor: bool,
    typing: bool,
    operator: User | None = None,
    operator_name: str | None = None,
) -> None:
    """Remember who types for a few seconds and tell the other side (never the typist)."""
    # Published after the request's commit like every event (the request has read the
    # conversation, so its transaction exists and commits).
    record(
        session,
        await typing_event(
            state,
            conversation,
            by_visitor=by_visitor,
            typing=typing,
            operator=operator,
            operator_name=operator_name,
        ),
    )


async def typing_event(
    state: SharedState,
    conversation: Conversation,
    *,
    by_visitor: bool,
    typing: bool,
    operator: User | None = None,
    operator_name: str | None = None,
) -> DomainEvent:
    """The typing signal remembered for a few seconds, and the event telling the other
    side; ``conversation`` may be a transient row (the widget's hot path publishes it)."""
    name = operator.name if operator is not None else operator_name
    key = (
        f"typing:visitor:{conversation.id}"
        if by_visitor
        else f"typing:operator:{conversation.id}:{operator.id if operator else 0}"
    )
    if typing:
        await state.put(key, b"1", TYPING_TTL_MS)
    else:
        await state.take(key)
    data: dict[str, object] = {"typing": typing, "sender": "visitor" if by_visitor else "operator"}
    if name is not None:
        data["author"] = {"name": name}
    return about(conversation, "typing", data, to_visitor=not by_visitor, to_staff=by_visitor)


class StaffActions:
    def __init__(self, conversations: ConversationService, state: SharedState) -> None:
        self.conversations = conversations
        self.state = state

    async def reply(
        self,
        conversation: Conversation,
        author: Actor,
        body: str,
        client_msg_id: str | None = None,
        attachment_ids: Sequence[UUID] = (),
    ) -> tuple[Message, bool]:
        """An operator's message, with files uploaded from the composer (all sent or none)."""
        message, created = await self.conversations.reply(
            conversation, author, body, client_msg_id, with_files=bool(attachment_ids)
        )
        if created and attachment_ids:
            if not isinstance(author, User):  # the integration API sends no files
                raise InvalidInputError(N_("Only a staff member can send files."))
            session = self.conversations.repository.session
            linked = await link_staff_uploads(
                session, conversation, message, author, attachment_ids
            )
            set_committed_value(message, "attachments", linked)  # the published event shows them
        return message, created

    async def note(
        self, conversation: Conversation, author: Actor, body: str, client_msg_id: str | None = None
    ) -> Message:
        return await self.conversations.add_note(conversation, author, body, client_msg_id)

    async def write_note(
        self, conversation: Conversation, author: Actor, body: str, client_msg_id: str | None = None
    ) -> tuple[Message, bool]:
        return await self.conversations.write_note(conversation, author, body, client_msg_id)

    async def change_status(
        self, conversation: Conversation, status: ConversationStatus | str, actor: Actor
    ) -> Message | None:
        return await self.conversations.change_status(conversation, status, actor)

    async def set_priority(
        self, conversation: Conversation, priority: ConversationPriority | str, actor: Actor
    ) -> Conversation:
        return await self.conversations.set_priority(conversation, priority, actor)

    async def assign(
        self, conversation: Conversation, assignee_id: int, actor: Actor
    ) -> Message | None:
        return await self.conversations.assign(conversation, assignee_id, actor)

    async def unassign(self, conversation: Conversation, actor: Actor) -> Conversation:
        return await self.conversations.unassign(conversation, actor)

    async def typing(self, conversation: Conversation, operator: User, typing: bool) -> None:
        await set_typing(
            self.state,
            self.conversations.repository.session,
            conversation,
            by_visitor=False,
            typing=typing,
            operator=operator,
        )

    async def mark_read(self, conversation: Conversation, up_to_id: int) -> None:
        await self.conversations.mark_read_by_operator(conversation, up_to_id)
