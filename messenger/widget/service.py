"""The visitor side's rules: the first message, delivery, receipts, typing, the offline form.

Controllers parse and authorize; everything a visitor's call *means* happens here. Nothing
here commits or publishes: the request's unit of work does both, in that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from messenger.accounts.service import normalize_email
from messenger.attachments.service import AttachmentService
from messenger.attachments.storage import Storage
from messenger.config import Settings
from messenger.contacts.prechat import PrechatAnswers, check_required, clean_answers, store
from messenger.conversations.actions import set_typing
from messenger.conversations.assignment import auto_assign
from messenger.conversations.intake import ConversationIntake, current_conversation
from messenger.conversations.receipts import mark_delivered_to_visitor
from messenger.conversations.service import ConversationService, clean_body
from messenger.conversations.timeline import visitor_messages
from messenger.db.models import (
    Conversation,
    ConversationChannel,
    ConversationStatus,
    Inbox,
    Message,
    MessageSender,
)
from messenger.errors import InvalidInputError
from messenger.i18n import N_
from messenger.inboxes.service import inbox_settings
from messenger.presence import Presence
from messenger.state import SharedState
from messenger.visitors.geo import GeoLocator
from messenger.visitors.service import Caller
from messenger.widget import schemas
from messenger.widget.sessions import WidgetSession

BOOTSTRAP_HISTORY = 100


@dataclass(frozen=True, slots=True)
class Sent:
    message: Message
    created: bool


class WidgetService:
    def __init__(
        self,
        *,
        db: AsyncSession,
        settings: Settings,
        state: SharedState,
        geo: GeoLocator,
        storage: Storage,
        presence: Presence | None = None,
    ) -> None:
        self.db = db
        self.presence = presence
        self.settings = settings
        self.state = state
        self.intake = ConversationIntake(db, settings, geo)
        self.conversations = ConversationService(session=db)
        self.attachments = AttachmentService(db, storage)

    # --- lookups ---------------------------------------------------------------------------

    async def current_conversation(self, inbox_id: int, visitor_id: UUID) -> Conversation | None:
        return await current_conversation(self.db, inbox_id, visitor_id)

    async def recent(self, conversation_id: UUID) -> list[Message]:
        """The last page of the visitor's view (notes excluded by ``visitor_messages``)."""
        newest = await self.db.scalar(
            select(Message.id)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .offset(BOOTSTRAP_HISTORY * 2)
            .limit(1)
        )
        return (await visitor_messages(self.db, conversation_id, after_id=newest or 0))[
            -BOOTSTRAP_HISTORY:
        ]

    # --- delivery --------------------------------------------------------------------------

    async def delivered(self, conversation: Conversation, messages: list[Message]) -> None:
        """The widget has received these messages: stamp operator ones as delivered."""
        operator_ids = [
            m.id for m in messages if m.sender == MessageSender.OPERATOR and m.delivered_at is None
        ]
        if operator_ids:
            await mark_delivered_to_visitor(self.db, conversation, max(operator_ids))

    # --- send ------------------------------------------------------------------------------

    async def send(
        self, inbox: Inbox, session: WidgetSession, request: schemas.SendRequest, caller: Caller
    ) -> Sent:
        """A visitor message; the first one creates the visitor row and the conversation.

        The same ``client_msg_id`` again returns the stored message (``created`` False).
        """
        if not request.body.strip() and not request.attachment_ids:
            raise InvalidInputError(N_("A message needs text or an attachment."))
        body = clean_body(request.body) if request.body.strip() else ""
        answers = answers_of(request.contact)
        intake = await self.intake.take(
            inbox,
            session.visitor_id,
            caller,
            request.page_url,
            contact=answers.fields() if request.contact is not None else None,
            referrer=request.referrer,
        )
        if intake.started and not session.identified:  # the pre-chat form, when asked
            check_required(inbox_settings(inbox).prechat, answers, intake.visitor)
        store(intake.visitor, answers)
        conversation = intake.conversation
        if not intake.started and (
            existing := await self.conversations.by_client_msg_id(
                conversation.id, request.client_msg_id
            )
        ):
            return Sent(existing, created=False)  # a retry changes nothing (no reopening)
        reopened = conversation.status in (ConversationStatus.PENDING, ConversationStatus.RESOLVED)
        if reopened:
            conversation.status = ConversationStatus.OPEN
            conversation.snoozed_until = None  # the visitor's message wakes a snoozed one
        if reopened or intake.started:
            self.conversations.status_changed(conversation)
        message, created = await self.conversations.append(
            conversation,
            sender=MessageSender.VISITOR,
            body=body,
            client_msg_id=request.client_msg_id,
            started=intake.started,
        )
        if created and request.attachment_ids:
            linked = await self.attachments.link(
                inbox, session.visitor_id, conversation, message, request.attachment_ids
            )
            set_committed_value(message, "attachments", linked)
        if intake.started and self.presence is not None:
            # The first message: the inbox's auto-assignment picks an online operator.
            await auto_assign(self.db, self.presence, conversation, inbox, datetime.now(UTC))
        return Sent(message, created)

    async def save_contact(
        self, inbox: Inbox, session: WidgetSession, contact: schemas.ContactIn, caller: Caller
    ) -> PrechatAnswers:
        """The pre-chat form sent on its own (``POST /api/widget/contact``): stored on the
        visitor (whose row it creates), checked like the first message's ``contact``."""
        answers = answers_of(contact)
        visitor = await self.intake.visitors.upsert(
            inbox, session.visitor_id, caller, None, contact=answers.fields()
        )
        if not session.identified:
            check_required(inbox_settings(inbox).prechat, answers, visitor)
        store(visitor, answers)
        return answers

    # --- poll, read, typing ----------------------------------------------------------------

    async def poll(
        self, inbox: Inbox, session: WidgetSession, after_id: int
    ) -> tuple[Conversation | None, list[Message]]:
        conversation = await self.current_conversation(inbox.id, session.visitor_id)
        if conversation is None:
            return None, []
        messages = await visitor_messages(self.db, conversation.id, after_id=after_id)
        await self.delivered(conversation, messages)
        return conversation, messages

    async def read(self, inbox: Inbox, session: WidgetSession, up_to_id: int) -> int | None:
        conversation = await self.current_conversation(inbox.id, session.visitor_id)
        if conversation is None:
            return None
        return await self.conversations.mark_read_by_visitor(conversation, up_to_id)

    async def typing(self, inbox: Inbox, session: WidgetSession, typing: bool) -> None:
        conversation = await self.current_conversation(inbox.id, session.visitor_id)
        if conversation is None:
            return  # nobody to tell before the first message
        await set_typing(self.state, self.db, conversation, by_visitor=True, typing=typing)

    # --- offline form ----------------------------------------------------------------------

    async def offline(
        self, inbox: Inbox, session: WidgetSession, request: schemas.OfflineRequest, caller: Caller
    ) -> Sent:
        """The offline form becomes a conversation carrying the visitor's contact."""
        email = normalize_email(request.email)
        body = clean_body(request.body)
        intake = await self.intake.take(
            inbox,
            session.visitor_id,
            caller,
            request.page_url,
            contact={"name": request.name.strip(), "email": email, "phone": request.phone},
            channel=ConversationChannel.OFFLINE_FORM,
            referrer=request.referrer,
        )
        if intake.started:
            self.conversations.status_changed(intake.conversation)
        message, created = await self.conversations.append(
            intake.conversation,
            sender=MessageSender.VISITOR,
            body=body,
            client_msg_id=request.client_msg_id,
        )
        return Sent(message, created)


def answers_of(contact: schemas.ContactIn | None) -> PrechatAnswers:
    if contact is None:
        return PrechatAnswers()
    return clean_answers(contact.name, contact.email, contact.phone, contact.consent)
