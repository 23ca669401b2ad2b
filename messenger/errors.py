"""Domain errors. Services raise these; the app turns them into JSON (or a CLI message).

Each carries a stable English ``code`` (integrators match on it) and a human ``detail``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


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
