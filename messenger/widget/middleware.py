"""Edge of the Widget API: the feature flag, CORS preflights and CORS response headers.

Litestar's ``CORSConfig`` takes one static list of origins for the whole app; ours come
from each inbox's settings, and a refused preflight must also be logged, so the widget
path has this small middleware of its own.
"""

from __future__ import annotations

import json
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from messenger.client_ip import client_ip
from messenger.config import Settings
from messenger.i18n import N_, gettext, negotiate, use_locale
from messenger.inboxes.cache import InboxCache
from messenger.widget.security import CORS_DENIED_KEY, CORS_ORIGIN_KEY, log_refusal

WIDGET_PREFIX = "/api/widget/"
ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, Last-Event-ID"
EXPOSE_HEADERS = "Retry-After"
PREFLIGHT_MAX_AGE = "600"


def _json(
    status: int, code: str, detail: str, headers: Headers, default_locale: str
) -> tuple[int, bytes]:
    """An error body in the widget's language (its Accept-Language)."""
    with use_locale(negotiate(None, headers.get("accept-language"), default_locale)):
        text = gettext(detail)
    return status, json.dumps({"error": code, "detail": text}, ensure_ascii=False).encode()


class WidgetEdge:
    """The edge's decisions, shared by :class:`WidgetEdgeMiddleware` and the fast lane
    (:mod:`messenger.widget.fastlane`): built once by the composition root."""

    def __init__(self, *, settings: Settings, inboxes: InboxCache) -> None:
        self.settings = settings
        self.inboxes = inboxes

    async def cors_headers(self, scope: Scope, origin: str | None) -> list[tuple[bytes, bytes]]:
        """The CORS headers of a widget response (not a preflight): ``Vary: Origin``, and
        the origin echoed when the call's inbox allowed it (the scope-state key set by
        :func:`~messenger.widget.security.mark_allowed`) or, for an error before the inbox
        was known, when any inbox allows it."""
        state: dict[str, Any] = scope.get("state", {})
        echo = state.get(CORS_ORIGIN_KEY)
        if echo is None and origin is not None and not state.get(CORS_DENIED_KEY):
            echo = origin if await self.known(origin) else None
        extra = [(b"vary", b"Origin")]
        if echo:
            extra += [
                (b"access-control-allow-origin", echo.encode("latin-1")),
                (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
            ]
        return extra

    async def known(self, origin: str) -> bool:
        try:
            return await self.inboxes.allows_any(origin)
        except Exception:  # the store or the database is down: no echo, the error stands
            return False


class WidgetEdgeMiddleware:
    """Built by the composition root with what it needs (``DefineMiddleware``)."""

    def __init__(self, app: ASGIApp, *, edge: WidgetEdge) -> None:
        self.app = app
        self.edge = edge
        self.settings = edge.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not scope["path"].startswith(WIDGET_PREFIX):
            await self.app(scope, receive, send)
            return
        settings = self.settings
        headers = Headers.from_scope(scope)
        if not settings.enabled:
            body = _json(
                404,
                "not_found",
                N_("The messenger is switched off."),
                headers,
                settings.default_locale,
            )
            await _respond(send, *body)
            return
        origin = headers.get("origin")
        if scope["method"] == "OPTIONS":
            await self._preflight(scope, send, origin, headers)
            return
        del headers  # not kept for as long as a stream stays open

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = await self.edge.cors_headers(scope, origin)
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(
        self, scope: Scope, send: Send, origin: str | None, headers: Headers
    ) -> None:
        if origin is None or not await self.edge.known(origin):
            ip = client_ip(ASGIConnection(scope), self.settings.trusted_proxies)
            log_refusal(
                inbox_id=None,
                origin=origin,
                referer=headers.get("referer"),
                ip=ip,
                endpoint=f"OPTIONS {scope['path']}",
                reason="preflight_origin_not_allowed" if origin else "preflight_without_origin",
            )
            await _respond(
                send,
                *_json(
                    403,
                    "origin_not_allowed",
                    N_("This site is not allowed to use this chat."),
                    headers,
                    self.settings.default_locale,
                ),
                extra=[(b"vary", b"Origin")],
            )
            return
        await _respond(
            send,
            204,
            b"",
            extra=[
                (b"access-control-allow-origin", (origin or "").encode("latin-1")),
                (b"access-control-allow-methods", ALLOW_METHODS.encode()),
                (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
                (b"vary", b"Origin"),
            ],
            content_type=None,
        )


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    *,
    extra: list[tuple[bytes, bytes]] | None = None,
    content_type: bytes | None = b"application/json",
) -> None:
    headers = list(extra or [])
    if content_type is not None:
        headers.append((b"content-type", content_type))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
