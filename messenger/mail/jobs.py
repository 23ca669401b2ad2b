"""Which e-mails an event asks for, and each mail job carried out.

An operator's reply is e-mailed to a visitor who left an address and did not get it in the
widget: "not connected" is measured by the message itself — an open widget (stream or
poll) stamps an operator message ``delivered`` within seconds, so a reply still undelivered
``MESSENGER_MAIL_OFFLINE_AFTER_SECONDS`` later went to nobody. An offline-form conversation
is mailed at once: its visitor was told "we will answer at {email}".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.conversations.timeline import SHOWN_WITH, VISITOR_KINDS
from messenger.db.models import (
    Conversation,
    ConversationChannel,
    Inbox,
    Message,
    MessageKind,
    MessageSender,
    OutboxEntry,
)
from messenger.db.outbox import emit
from messenger.i18n import LOCALES, primary_language
from messenger.inboxes.service import inbox_settings
from messenger.mail.compose import reply_mail, transcript_mail
from messenger.webhooks.payloads import load_conversation

REPLY = "mail.reply"
TRANSCRIPT = "mail.transcript"
#: The most messages one e-mail quotes (the latest ones).
HISTORY = 100


def language(inbox: Inbox, conversation: Conversation, settings: Settings) -> str:
    configured = inbox_settings(inbox).locale
    if configured is not None:
        return configured
    spoken = primary_language(conversation.visitor.locale)
    return spoken if spoken in LOCALES else settings.default_locale


def schedule(
    session: AsyncSession,
    topic: str,
    facts: dict[str, Any],
    conversation: Conversation,
    settings: Settings,
    *,
    sender: str | None = None,
    transcript_on_resolve: bool = False,
) -> OutboxEntry | None:
    """The mail job an event asks for, written in the caller's transaction (or None)."""
    if not settings.mail_enabled or not conversation.visitor.email:
        return None
    now = datetime.now(UTC)
    if topic == "message.created" and sender == MessageSender.OPERATOR.value:
        job = emit(session, REPLY, facts, inbox_id=conversation.inbox_id)
        if conversation.channel != ConversationChannel.OFFLINE_FORM:
            job.available_at = now + timedelta(seconds=settings.mail_offline_after_seconds)
        return job
    if (
        topic == "conversation.status_changed"
        and facts.get("status") == "resolved"
        and transcript_on_resolve
    ):
        return emit(session, TRANSCRIPT, facts, inbox_id=conversation.inbox_id)
    return None


async def _history(session: AsyncSession, conversation: Conversation) -> list[Message]:
    rows = await session.scalars(
        select(Message)
        .where(
            Message.conversation_id == conversation.id,
            Message.kind.in_(VISITOR_KINDS),
            Message.kind == MessageKind.MESSAGE,
        )
        .options(*SHOWN_WITH)
        .order_by(Message.id.desc())
        .limit(HISTORY)
    )
    return list(reversed(list(rows)))


async def compose(
    session: AsyncSession, job: OutboxEntry, settings: Settings
) -> EmailMessage | None:
    """The e-mail ``job`` stands for; None: none is due (seen in the widget, no address)."""
    conversation = await load_conversation(session, job.payload["conversation_id"])
    if conversation is None or settings.mail_from is None:
        return None
    # A transcript the visitor asked for names its address (maybe not the one on file).
    to = job.payload.get("email") or conversation.visitor.email
    if not to:
        return None
    inbox = await session.get(Inbox, conversation.inbox_id)
    if inbox is None:
        return None
    locale = language(inbox, conversation, settings)
    history = await _history(session, conversation)
    if job.topic == REPLY:
        reply = await session.scalar(
            select(Message).where(Message.id == job.payload["message_id"]).options(*SHOWN_WITH)
        )
        if reply is None:
            return None
        if (
            reply.delivered_at is not None
            and conversation.channel != ConversationChannel.OFFLINE_FORM
        ):
            return None  # an open widget received it
        return reply_mail(
            locale=locale, sender=settings.mail_from, to=to, reply=reply, history=history
        )
    return transcript_mail(locale=locale, sender=settings.mail_from, to=to, history=history)
