"""The rules of a conversation's life. Controllers call these; nothing here knows HTTP.

Nothing here commits: the caller's unit of work does (the request, or
:func:`messenger.realtime.transaction.transaction`). Every change that live screens must
see is recorded as a domain event on the session and published after that commit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from messenger.conversations.actors import Actor, signature
from messenger.conversations.receipts import mark_read, receipt_event  # re-exported
from messenger.conversations.rules import (  # re-exported: the rules' one home is rules.py
    MAX_BODY_LENGTH,
    can_see,
    clean_body,
    scope_query,
)
from messenger.conversations.timeline import SHOWN_WITH
from messenger.db.events import about, record
from messenger.db.models import (
    Conversation,
    ConversationChannel,
    ConversationPriority,
    ConversationStatus,
    Inbox,
    Message,
    MessageKind,
    MessageSender,
    User,
    Visitor,
)
from messenger.db.repository import Repository, RepositoryService
from messenger.errors import InvalidInputError, NotFoundError
from messenger.i18n import N_
from messenger.metrics import MESSAGES

__all__ = [
    "MAX_BODY_LENGTH",
    "ConversationService",
    "can_see",
    "clean_body",
    "receipt_event",
    "scope_query",
]


def _now() -> datetime:
    return datetime.now(UTC)


class ConversationService(RepositoryService[Conversation]):
    class Repo(Repository[Conversation]):
        model_type = Conversation

    repository_type = Repo

    # --- reading, in scope -------------------------------------------------------------

    async def get_for_staff(self, conversation_id: UUID, user: Actor) -> Conversation:
        """The conversation if ``user`` may see it; otherwise 404, never a hint it exists."""
        conversation = await self.repository.session.scalar(
            select(Conversation)
            .where(Conversation.id == conversation_id)
            # What the conversation pane shows about it, loaded with it: in the same statement
            # (each is one row; a selectin load would be a round trip apiece).
            .options(
                joinedload(Conversation.visitor),
                joinedload(Conversation.inbox),
                joinedload(Conversation.branch),
                joinedload(Conversation.assignee),
            )
        )
        if conversation is None or not can_see(user, conversation):
            raise NotFoundError(N_("No such conversation."))
        return conversation

    # --- starting and writing ------------------------------------------------------------

    async def start(
        self,
        *,
        inbox: Inbox,
        visitor: Visitor,
        branch_id: int | None,
        channel: ConversationChannel = ConversationChannel.CHAT,
    ) -> Conversation:
        conversation = Conversation(
            inbox_id=inbox.id,
            visitor_id=visitor.id,
            branch_id=branch_id,
            channel=channel,
            last_activity_at=_now(),
        )
        return await self.create(conversation, auto_commit=False, auto_refresh=False)

    async def append(
        self,
        conversation: Conversation,
        *,
        sender: MessageSender,
        body: str,
        kind: MessageKind = MessageKind.MESSAGE,
        author: Actor | None = None,
        client_msg_id: str | None = None,
        started: bool = False,
    ) -> tuple[Message, bool]:
        """Add a message; ``(message, created)``. A known ``client_msg_id`` returns the stored one.

        The conversation row is locked first (the UPDATE of its activity time) and the
        message id is drawn under that lock, so ids of one conversation commit in order
        and a reader asking for "after id N" never misses a late commit. A new message is
        recorded as a ``message`` event (the publisher keeps notes away from visitors).

        ``started``: the conversation was created by this very transaction, so no other
        can see it yet — there is nothing to lock and no earlier message to find.
        """
        session = self.repository.session
        now = _now()
        if not started:
            if client_msg_id is not None and (
                existing := await self._by_client_msg_id(conversation.id, client_msg_id)
            ):
                return existing, False
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation.id)
                .values(last_activity_at=now)
                .execution_options(synchronize_session=False)
            )
            if client_msg_id is not None and (
                # Again under the lock: a concurrent retry may have committed meanwhile.
                existing := await self._by_client_msg_id(conversation.id, client_msg_id)
            ):
                return existing, False
        # A member of staff is the author; an integration signs with its name.
        staff, author_name = signature(author)
        message = Message(
            conversation_id=conversation.id,
            sender=sender,
            kind=kind,
            body=body,
            author_id=staff.id if staff is not None else None,
            author_name=author_name,
            client_msg_id=client_msg_id,
        )
        session.add(message)
        await session.flush()
        # What the message shows is known here: no read-back after the write.
        set_committed_value(message, "author", staff)
        set_committed_value(message, "attachments", [])
        conversation.last_activity_at = now
        MESSAGES.labels(sender=sender.value, kind=kind.value).inc()
        record(session, about(conversation, "message", message=message))
        return message, True

    def status_changed(self, conversation: Conversation) -> None:
        """Record that ``conversation``'s status changed (widget and staff redraw it)."""
        record(
            self.repository.session,
            about(
                conversation,
                "status",
                {"conversation_id": str(conversation.id), "status": conversation.status.value},
            ),
        )

    async def reply(
        self,
        conversation: Conversation,
        author: Actor,
        body: str,
        client_msg_id: str | None = None,
        with_files: bool = False,  # files follow (StaffActions.reply): the text may be empty
    ) -> tuple[Message, bool]:
        """An operator's message to the visitor (reopens a pending or resolved conversation).

        Idempotent by ``client_msg_id`` (the composer keeps one per draft): a retry returns
        the stored message (``created`` False) and changes nothing else, not even the status.
        :meth:`append` checks again under the conversation's row lock, and the unique
        ``(conversation_id, client_msg_id)`` constraint backs it, so two concurrent sends of
        one draft store one message.
        """
        self._require_in_scope(conversation, author)
        text = "" if with_files and not body.strip() else clean_body(body)
        if client_msg_id is not None and (
            existing := await self._by_client_msg_id(conversation.id, client_msg_id)
        ):
            return existing, False
        if conversation.status in (ConversationStatus.RESOLVED, ConversationStatus.PENDING):
            conversation.status = ConversationStatus.OPEN
            conversation.snoozed_until = None
            self.status_changed(conversation)
        message, created = await self.append(
            conversation,
            sender=MessageSender.OPERATOR,
            body=text,
            author=author,
            client_msg_id=client_msg_id,
        )
        return message, created

    async def add_note(
        self, conversation: Conversation, author: Actor, body: str, client_msg_id: str | None = None
    ) -> Message:
        """An internal note: kind ``note``, seen by staff only."""
        message, _ = await self.write_note(conversation, author, body, client_msg_id)
        return message

    async def write_note(
        self, conversation: Conversation, author: Actor, body: str, client_msg_id: str | None = None
    ) -> tuple[Message, bool]:
        """:meth:`add_note` telling whether it is new (False: ``client_msg_id`` repeated)."""
        self._require_in_scope(conversation, author)
        return await self.append(
            conversation,
            sender=MessageSender.OPERATOR,
            kind=MessageKind.NOTE,
            body=clean_body(body),
            author=author,
            client_msg_id=client_msg_id,
        )

    # --- status, priority, assignment ------------------------------------------------------

    async def change_status(
        self, conversation: Conversation, status: ConversationStatus | str, actor: Actor
    ) -> Message | None:
        """Any status may follow any other (staff can reopen what they closed); an event
        message records each real change and is returned (None: nothing changed). A
        *closed* conversation stays closed for the visitor: their next message starts a
        new conversation."""
        self._require_in_scope(conversation, actor)
        new = _parse_enum(ConversationStatus, status, "status")
        if new == conversation.status:
            return None
        conversation.status = new
        conversation.snoozed_until = None  # a snooze is set by snooze.py, ended by any change
        self.status_changed(conversation)
        event, _ = await self.append(
            conversation,
            sender=MessageSender.SYSTEM,
            kind=MessageKind.EVENT,
            body=f"status:{new.value}",
            author=actor,
        )
        return event

    async def set_priority(
        self, conversation: Conversation, priority: ConversationPriority | str, actor: Actor
    ) -> Conversation:
        self._require_in_scope(conversation, actor)
        conversation.priority = _parse_enum(ConversationPriority, priority, "priority")
        await self.repository.session.flush()
        self._staff_update(conversation, priority=conversation.priority.value)
        return conversation

    async def assign(
        self, conversation: Conversation, assignee_id: int, actor: Actor
    ) -> Message | None:
        """Assign to an active operator (or admin) who is a member of the conversation's
        branch; the event message it writes is returned (None: already theirs)."""
        self._require_in_scope(conversation, actor)
        assignee = await self.repository.session.get(User, assignee_id)
        if assignee is None or not assignee.is_active:
            raise InvalidInputError(N_("Only an active operator can be assigned."))
        if conversation.branch_id is None or conversation.branch_id not in assignee.branch_ids:
            raise InvalidInputError(
                N_("%(name)s is not an operator of this conversation's branch."),
                params={"name": assignee.name},
            )
        if conversation.assignee_id == assignee.id:
            return None
        conversation.assignee = assignee
        event, _ = await self.append(
            conversation,
            sender=MessageSender.SYSTEM,
            kind=MessageKind.EVENT,
            body="assigned",
            author=assignee,
        )
        return event

    async def assign_to_me(self, conversation: Conversation, actor: User) -> Message | None:
        return await self.assign(conversation, actor.id, actor)

    async def unassign(self, conversation: Conversation, actor: Actor) -> Conversation:
        self._require_in_scope(conversation, actor)
        if conversation.assignee_id is None:
            return conversation
        conversation.assignee = None
        await self.repository.session.flush()
        self._staff_update(conversation, assignee=None)
        return conversation

    def _staff_update(self, conversation: Conversation, **data: object) -> None:
        """A change only staff screens show (priority, assignee): their list redraws."""
        record(
            self.repository.session,
            about(
                conversation,
                "status",
                {"conversation_id": str(conversation.id), **data},
                to_visitor=False,
            ),
        )

    # --- read markers --------------------------------------------------------------------

    async def mark_read_by_operator(self, conversation: Conversation, up_to_id: int) -> int | None:
        """Operators have read visitor messages up to ``up_to_id``; returns the new marker."""
        return await mark_read(
            self.repository.session, conversation, up_to_id, reader=MessageSender.OPERATOR
        )

    async def mark_read_by_visitor(self, conversation: Conversation, up_to_id: int) -> int | None:
        """The visitor has read operator messages up to ``up_to_id``; returns the new marker."""
        return await mark_read(
            self.repository.session, conversation, up_to_id, reader=MessageSender.VISITOR
        )

    # --- helpers ---------------------------------------------------------------------------

    async def by_client_msg_id(self, conversation_id: UUID, client_msg_id: str) -> Message | None:
        """The message a retried write stored under ``client_msg_id``, if any."""
        return await self._by_client_msg_id(conversation_id, client_msg_id)

    async def _by_client_msg_id(self, conversation_id: UUID, client_msg_id: str) -> Message | None:
        message = await self.repository.session.scalar(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.client_msg_id == client_msg_id,
            )
            .options(*SHOWN_WITH)
        )
        return message

    @staticmethod
    def _require_in_scope(conversation: Conversation, user: Actor) -> None:
        if not can_see(user, conversation):
            raise NotFoundError(N_("No such conversation."))


_E = TypeVar("_E", ConversationStatus, ConversationPriority)


def _parse_enum(enum: type[_E], value: _E | str, field: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidInputError(
            N_("%(field)s must be one of: %(allowed)s."),
            params={"field": field, "allowed": allowed},
        ) from None
