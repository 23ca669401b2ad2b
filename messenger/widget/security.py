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


def check_origin(
    connection: ASGIConnection[Any, Any, Any, Any],
    inbox: Inbox,
    ip: str,
    allowed: list[str] | None = None,
) -> None:
    """``Origin`` (or ``Referer`` when there is no ``Origin``) must be on the inbox's list
    (``allowed``: that list, when the caller holds it parsed already)."""
    origin = connection.headers.get("origin")
    referer = connection.headers.get("referer")
    source = origin if origin is not None else referer
    if allowed is None:
        allowed = inbox_settings(inbox).security.allowed_domains
    if source is None:
        reason = "no_origin_or_referer"
    elif not allowed:
        reason = "inbox_has_no_allowed_domains"
    elif not is_allowed(source, allowed):
        reason = "origin_not_in_allowlist" if origin is not None else "referer_not_in_allowlist"
    else:
        if origin is not None:
            connection.scope.setdefault("state", {})[CORS_ORIGIN_KEY] = origin
        return
    connection.scope.setdefault("state", {})[CORS_DENIED_KEY] = True
    log_refusal(
        inbox_id=inbox.id,
        origin=origin,
        referer=referer,
        ip=ip,
        endpoint=f"{connection.scope.get('method', 'GET')} {connection.url.path}",
        reason=reason,
    )
    raise OriginNotAllowedError(N_("This site is not allowed to use this chat."))
