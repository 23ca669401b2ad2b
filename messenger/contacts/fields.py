"""A visitor's contact fields (pre-chat form, signed identity): checked and normalised."""

from __future__ import annotations

import re

from messenger.accounts.service import normalize_email
from messenger.errors import InvalidInputError, Message, invalid_field
from messenger.i18n import N_
from messenger.visitors.service import visible_text

#: Digits with the usual separators, optionally a leading +: 5 to 20 digits.
_PHONE = re.compile(r"^\+?[0-9 ()\-.]{5,30}$")


def clean_name(value: str | None) -> str | None:
    name = visible_text(value)
    if name is not None and len(name) > 200:
        raise invalid_field(
            "contact.name", Message(N_("at most %(count)s characters"), {"count": 200})
        )
    return name


def clean_email(value: str | None, field: str = "contact.email") -> str | None:
    text = visible_text(value)
    if text is None:
        return None
    try:
        return normalize_email(text)
    except InvalidInputError:
        raise invalid_field(field, Message(N_("not an e-mail address"))) from None


def clean_phone(value: str | None) -> str | None:
    text = visible_text(value)
    if text is None:
        return None
    digits = re.sub(r"\D", "", text)
    if not _PHONE.match(text) or not 5 <= len(digits) <= 20:
        raise invalid_field("contact.phone", Message(N_("not a phone number")))
    return text
