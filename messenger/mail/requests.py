"""A transcript the visitor asks for from the widget (INTEGRATIONS.md §5): the mail job,
written in the caller's transaction like the on-resolve transcript, sent by the worker."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.contacts.fields import clean_email
from messenger.db.models import Conversation, OutboxEntry
from messenger.db.outbox import emit
from messenger.errors import DomainError, InvalidInputError
from messenger.i18n import N_
from messenger.mail.jobs import TRANSCRIPT


class MailUnavailableError(DomainError):
    """No SMTP server or From address configured: nothing can be mailed."""

    status_code = 409
    code = "unavailable"

    def __init__(self) -> None:
        super().__init__(N_("E-mail is not set up for this chat: no transcript can be sent."))


class EmailRequiredError(InvalidInputError):
    """The visitor left no e-mail address and gave none."""

    code = "email_required"

    def __init__(self) -> None:
        super().__init__(N_("We do not know your e-mail address: please give one."))


def request_transcript(
    db: AsyncSession, conversation: Conversation, email: str | None, settings: Settings
) -> OutboxEntry:
    """Queue the conversation's transcript for ``email`` (checked) or the visitor's known
    address; a given address is kept on a visitor who had none. ``conversation.visitor``
    must be loaded."""
    if not settings.mail_enabled:
        raise MailUnavailableError
    given = clean_email(email, field="email")
    visitor = conversation.visitor
    to = given or visitor.email
    if to is None:
        raise EmailRequiredError
    if given is not None and not visitor.email:
        visitor.email = given
    payload = {"conversation_id": str(conversation.id), "email": to, "requested": True}
    return emit(db, TRANSCRIPT, payload, inbox_id=conversation.inbox_id)
