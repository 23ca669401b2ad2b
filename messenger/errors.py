"""Domain errors. Services raise these; the app turns them into JSON (or a CLI message).

Each carries a stable English ``code`` (integrators match on it) and a human ``detail``.
The detail is a gettext msgid (marked with ``N_``) filled with ``params``: the Widget API
answers it in the widget's language, the CLI and logs in English.
"""

from __future__ import annotations

from typing import Any, ClassVar


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
        self.msgid = detail
        self.params = params or {}
        self.detail = detail % self.params if self.params else detail
        super().__init__(self.detail)
        self.extra = extra or {}

    def translated(self) -> str:
        """The detail in the active language (see ``messenger.i18n``)."""
        from messenger.i18n import gettext

        text = gettext(self.msgid)
        return text % self.params if self.params else text


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
