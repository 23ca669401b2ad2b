"""Inbox settings about who the visitor is: signed identity, the pre-chat form, CSAT
(INTEGRATIONS.md §1 and §4). Part of :class:`messenger.inboxes.settings.InboxSettings`."""

from __future__ import annotations

from typing import Literal

import msgspec

from messenger.errors import Message, invalid_field
from messenger.i18n import N_

PrechatFieldName = Literal["name", "email", "phone", "consent"]
PRECHAT_FIELDS: tuple[PrechatFieldName, ...] = ("name", "email", "phone", "consent")


class _Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False):
    pass


class IdentitySettings(_Strict):
    #: True: a bootstrap without a valid signed identity is refused (401 identity_required).
    required: bool = False


class PrechatField(_Strict):
    name: PrechatFieldName
    required: bool = False


class PrechatSettings(_Strict):
    """Asked before the first message (identified visitors skip it)."""

    enabled: bool = False
    fields: list[PrechatField] = []

    def field(self, name: str) -> PrechatField | None:
        return next((f for f in self.fields if f.name == name), None)


class CsatSettings(_Strict):
    #: The widget asks for a 1-5 rating after an operator resolves the conversation.
    enabled: bool = True


def check_prechat(prechat: PrechatSettings) -> None:
    seen: set[str] = set()
    for item in prechat.fields:
        if item.name in seen:
            raise invalid_field(
                "prechat.fields", Message(N_("%(value)s is listed twice"), {"value": item.name})
            )
        seen.add(item.name)
