"""The origin allowlist check of every widget call, and its one structured log line."""

from __future__ import annotations

import logging
from typing import Any

from litestar.connection import ASGIConnection

from messenger.db.models import Inbox
from messenger.errors import DomainError
from messenger.i18n import N_
from messenger.inboxes.allowlist import is_allowed
from messenger.inboxes.service import inbox_settings
from messenger.metrics import WIDGET_REFUSALS

security_log = logging.getLogger("messenger.widget.security")

CORS_ORIGIN_KEY = "messenger_cors_origin"
CORS_DENIED_KEY = "messenger_cors_denied"


class OriginNotAllowedError(DomainError):
    status_code = 403
    code = "origin_not_allowed"


def log_refusal(
    *,
    inbox_id: int | None,
    origin: str | None,
    referer: str | None,
    ip: str,
    endpoint: str,
    reason: str,
) -> None:
    """One line, JSON, no token and no body: enough for support to see why."""
    WIDGET_REFUSALS.labels(status="403", reason=reason).inc()
    security_log.warning(
        "origin_not_allowed",
        extra={
            "event": "origin_not_allowed",
            "inbox_id": inbox_id,
            "origin": (origin or "")[:300] or None,
            "referer": (referer or "")[:300] or None,
            "client_ip": ip,
            "endpoint": endpoint,
            "reason": reason,
        },
    )


def origin_refusal(
    connection: ASGIConnection[Any, Any, Any, Any], allowed: list[str]
) -> str | None:
    """Why ``Origin`` (or ``Referer`` when there is no ``Origin``) is not on ``allowed``;
    None when it is. No side effect (see :func:`check_origin`)."""
    origin = connection.headers.get("origin")
    source = origin if origin is not None else connection.headers.get("referer")
    if source is None:
        return "no_origin_or_referer"
    if not allowed:
        return "inbox_has_no_allowed_domains"
    if not is_allowed(source, allowed):
        return "origin_not_in_allowlist" if origin is not None else "referer_not_in_allowlist"
    return None


def mark_allowed(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """The call's origin passed its inbox's allowlist: the CORS edge echoes it."""
    origin = connection.headers.get("origin")
    if origin is not None:
        connection.scope.setdefault("state", {})[CORS_ORIGIN_KEY] = origin


def check_origin(
    connection: ASGIConnection[Any, Any, Any, Any],
    inbox: Inbox,
    ip: str,
    allowed: list[str] | None = None,
) -> None:
    """``Origin`` (or ``Referer`` when there is no ``Origin``) must be on the inbox's list
    (``allowed``: that list, when the caller holds it parsed already); a refusal is logged
    and answered 403."""
    if allowed is None:
        allowed = inbox_settings(inbox).security.allowed_domains
    reason = origin_refusal(connection, allowed)
    if reason is None:
        mark_allowed(connection)
        return
    origin = connection.headers.get("origin")
    connection.scope.setdefault("state", {})[CORS_DENIED_KEY] = True
    log_refusal(
        inbox_id=inbox.id,
        origin=origin,
        referer=connection.headers.get("referer"),
        ip=ip,
        endpoint=f"{connection.scope.get('method', 'GET')} {connection.url.path}",
        reason=reason,
    )
    raise OriginNotAllowedError(N_("This site is not allowed to use this chat."))
