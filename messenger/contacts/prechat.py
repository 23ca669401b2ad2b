"""The pre-chat form (INTEGRATIONS.md §4): the visitor's answers checked against the
inbox's ``prechat`` fields, and stored on the visitor (where operators see and search
them: ``conversations/search.py`` searches the visitor's name, e-mail and phone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from messenger.contacts.fields import clean_email, clean_name, clean_phone
from messenger.db.models import Visitor
from messenger.errors import Message, invalid_field
from messenger.i18n import N_
from messenger.inboxes.visitor_settings import PrechatSettings


@dataclass(frozen=True, slots=True)
class PrechatAnswers:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    consent: bool | None = None

    def fields(self) -> dict[str, str | None]:
        """The visitor columns the answers fill (None: not told, keep the stored one)."""
        return {"name": self.name, "email": self.email, "phone": self.phone}


def clean_answers(
    name: str | None, email: str | None, phone: str | None, consent: bool | None
) -> PrechatAnswers:
    """Formats checked (e-mail, phone) whatever the inbox asks: 422 on a bad one."""
    return PrechatAnswers(clean_name(name), clean_email(email), clean_phone(phone), consent)


def _missing(field: str) -> Exception:
    return invalid_field(f"contact.{field}", Message(N_("%(name)s is required"), {"name": field}))


def check_required(
    prechat: PrechatSettings, answers: PrechatAnswers, visitor: Visitor | None
) -> None:
    """Every required field answered now or before (stored on the visitor): 422 otherwise."""
    if not prechat.enabled:
        return
    for field in prechat.fields:
        if not field.required:
            continue
        if field.name == "consent":
            if not answers.consent and (visitor is None or visitor.consent_at is None):
                raise invalid_field(
                    "contact.consent",
                    Message(N_("the consent to the privacy policy is required")),
                )
            continue
        told = getattr(answers, field.name)
        stored = getattr(visitor, field.name) if visitor is not None else None
        if not told and not stored:
            raise _missing(field.name)


def store(visitor: Visitor, answers: PrechatAnswers) -> None:
    for key, value in answers.fields().items():
        if value is not None:
            setattr(visitor, key, value)
    if answers.consent and visitor.consent_at is None:
        visitor.consent_at = datetime.now(UTC)
