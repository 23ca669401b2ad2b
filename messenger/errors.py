"""Domain errors. Services raise these; the app turns them into JSON (or a CLI message).

Each carries a stable English ``code`` (integrators match on it) and a human ``detail``.
The detail is a gettext msgid (marked with ``N_``) filled with ``params``: the Widget API
answers it in the widget's language, the dashboard in the operator's, the CLI and logs in
English. A parameter may itself be a :class:`Message` (a reason inside a sentence): it is
translated together with the sentence. Never pass an f-string or an already translated
text as the detail (``tests/unit/test_error_messages.py`` checks both).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import msgspec

from messenger.i18n import N_


class Message:
    """A catalog message with its parameters, translated when shown."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, params: dict[str, Any] | None = None) -> None:
        self.msgid = msgid
        self.params = params or {}

    def _filled(self, text: str, translate: bool) -> str:
        if not self.params:
            return text
        params = {
            key: (value.translated() if translate else str(value))
            if isinstance(value, Message)
            else value
            for key, value in self.params.items()
        }
        return text % params

    def translated(self) -> str:
        """The message in the active language (see ``messenger.i18n``)."""
        from messenger.i18n import gettext

        return self._filled(gettext(self.msgid), translate=True)

    def __str__(self) -> str:
        return self._filled(self.msgid, translate=False)

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, {self.params!r})"


class DomainError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        extra: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.message = Message(detail, params)
        self.msgid = detail
        self.params = self.message.params
        self.detail = str(self.message)
        super().__init__(self.detail)
        self.extra = extra or {}

    def translated(self) -> str:
        """The detail in the active language (see ``messenger.i18n``)."""
        return self.message.translated()


class NotFoundError(DomainError):
    """Unknown, or not yours to see: both answer the same, so scope never leaks existence."""

    status_code = 404
    code = "not_found"


class InvalidInputError(DomainError):
    status_code = 422
    code = "invalid"


class ConflictError(DomainError):
    status_code = 409
    code = "conflict"


class ForbiddenError(DomainError):
    status_code = 403
    code = "forbidden"


# --- msgspec validation errors as catalog messages --------------------------------------------

_AT = re.compile(r" - at `(?:key` in `)?\$\.?(?P<path>[^`]*)`$")
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`"), N_("unknown field %(name)s")),
    (re.compile(r"^Object missing required field `(?P<name>[^`]*)`"), N_("%(name)s is required")),
    (
        re.compile(r"^Expected `str` of length <= (?P<count>\d+)"),
        N_("at most %(count)s characters"),
    ),
    (
        re.compile(r"^Expected `str` of length >= (?P<count>\d+)"),
        N_("at least %(count)s characters"),
    ),
    (re.compile(r"^Expected `str` matching regex"), N_("the value has the wrong format")),
    (re.compile(r"^Invalid enum value (?P<value>.*)$"), N_("%(value)s is not an allowed value")),
    (
        re.compile(r"^Expected `(?:int|float|number)` (?:<=|<) (?P<count>[\d.]+)"),
        N_("the number must be at most %(count)s"),
    ),
    (
        re.compile(r"^Expected `(?:int|float|number)` (?:>=|>) (?P<count>[\d.]+)"),
        N_("the number is too small (the least is %(count)s)"),
    ),
    (
        re.compile(r"^Expected `(?P<expected>[^`]*)`, got `(?P<got>[^`]*)`"),
        N_("expected %(expected)s, got %(got)s"),
    ),
)
_FALLBACK_REASON = N_("the value is not valid")


def validation_reason(exc: msgspec.ValidationError, prefix: str = "") -> tuple[str, Message]:
    """The field path (``prefix.path``) and the reason of a msgspec ``ValidationError``,
    the reason as a catalog message: msgspec's own text is English only."""
    text = str(exc)
    at = _AT.search(text)
    path = at.group("path") if at else ""
    head = text[: at.start()] if at else text
    field = ".".join(part for part in (prefix, path) if part)
    for pattern, msgid in _RULES:
        match = pattern.match(head)
        if match:
            return field, Message(msgid, match.groupdict())
    return field, Message(_FALLBACK_REASON)


def invalid_field(field: str, reason: Message) -> InvalidInputError:
    """``<field>: <reason>``, both parts shown in the reader's language."""
    return InvalidInputError(
        N_("%(field)s: %(reason)s."), params={"field": field, "reason": reason}
    )
