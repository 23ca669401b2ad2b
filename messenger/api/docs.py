"""The integration API in ``/schema``: its error answers and the examples of its bodies."""

from __future__ import annotations

from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from messenger.api import schemas

TAG = "integration"
SECURITY: list[dict[str, list[str]]] = [{"api_token": []}]

_ERRORS = {
    400: "bad_request: a malformed query parameter",
    401: "unauthorized: no `Authorization: Bearer <api token>`, or an unknown or revoked token",
    404: "not_found: no such conversation, or outside the token's branch scope",
    422: "invalid: a body or parameter the API refuses (unknown field, wrong value, a rule)",
    429: "throttled: the token's calls per window are used up; see `Retry-After`",
    503: "unavailable: a backing service does not answer; retry after `Retry-After`",
}

VISITOR_ID = "0193b7c4-59ff-7a01-8c44-7e1d2a3b4c5d"
CONVERSATION: dict[str, Any] = {
    "id": "0193b7c4-5a2e-7c3d-9f10-2b4c6d8e0a11",
    "status": "open",
    "priority": "normal",
    "channel": "chat",
    "inbox": {"id": 1, "name": "shop.example.com"},
    "branch": {"id": 2, "name": "Moscow"},
    "visitor": {
        "id": VISITOR_ID,
        "name": "Anna",
        "email": "anna@example.com",
        "phone": "+7 900 000-00-00",
        "locale": "ru",
        "country": "Russia",
        "city": "Moscow",
        "page_url": "https://shop.example.com/cart",
    },
    "contact": None,
    "assignee": {"id": 7, "name": "Olga", "email": "olga@example.com"},
    "labels": [],
    "unread_count": 1,
    "created_at": "2026-11-30T08:15:02.123456+00:00",
    "last_activity_at": "2026-11-30T08:17:40.654321+00:00",
}
MESSAGE = {
    "id": 4182,
    "conversation_id": CONVERSATION["id"],
    "kind": "message",
    "sender": "operator",
    "body": "Your order ships today.",
    "author": {"name": "CRM", "email": None},
    "client_msg_id": "crm-7f3a9c",
    "created_at": "2026-11-30T08:17:40.654321+00:00",
    "delivered_at": None,
    "read_at": None,
    "attachments": [],
}
CONTACT = {
    "id": VISITOR_ID,
    "identifier": None,
    "name": "Anna",
    "email": "anna@example.com",
    "phone": "+7 900 000-00-00",
    "inbox_id": 1,
    "conversations": [
        {
            "id": CONVERSATION["id"],
            "status": "open",
            "inbox_id": 1,
            "branch_id": 2,
            "last_activity_at": CONVERSATION["last_activity_at"],
        }
    ],
}
NEXT = "ay4yMDI2LTExLTMwVDA4OjE3OjQwLjY1NDMyMSswMDowMH4wMTkzYjdjNC01YTJlLTdjM2QtOWYxMC0yYjRjNmQ4ZTBhMTE"


def example(summary: str, value: Any) -> list[Example]:
    return [Example(summary=summary, value=value)]


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """The errors a call can answer, all with the Widget API's body ``{"error", "detail"}``."""
    return {
        code: ResponseSpec(
            data_container=schemas.ErrorBody,
            description=_ERRORS[code],
            examples=example(
                _ERRORS[code].split(":", 1)[0],
                {"error": _ERRORS[code].split(":", 1)[0], "detail": "…"},
            ),
        )
        for code in (400, 401, 429, 503, *codes)
    }


def ok(container: type, description: str, value: Any, status: int = 200) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=container, description=description, examples=example(description, value)
        )
    }
