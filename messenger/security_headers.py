"""Browser hardening headers, added in one place for every response.

- Staff pages (the dashboard, sign-in, admin) and the API docs: a Content-Security-Policy
  without inline script, ``frame-ancestors 'none'`` (and ``X-Frame-Options: DENY`` for old
  browsers), ``Referrer-Policy: same-origin``, ``X-Content-Type-Options: nosniff``, and
  ``Strict-Transport-Security`` when ``MESSENGER_PUBLIC_URL`` is https.
- The Widget API, the widget's files and the demo page (which plays a customer's site) are
  embedded cross-origin: they get ``nosniff`` (and HSTS) only — no framing rule, no CSP,
  CORS untouched. A header a handler already set (attachment downloads set their own CSP)
  is never replaced.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

#: Staff pages: scripts and styles from this origin only; htmx runs without eval and
#: without its injected indicator style (the ``htmx-config`` meta in base.html).
STAFF_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: The API docs (Scalar, vendored): its own script only, but it styles itself inline.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: Served to other sites' pages: no framing rule and no page policy here.
CROSS_ORIGIN_PREFIXES = ("/api/widget", "/static/", "/demo")
#: Machine endpoints: the baseline only.
PLAIN_PREFIXES = ("/health", "/ready", "/metrics", "/schema/openapi")
HSTS = "max-age=31536000; includeSubDomains"


def headers_for(path: str, *, https: bool) -> list[tuple[bytes, bytes]]:
    """The hardening headers of a response to ``path``."""
    headers: list[tuple[bytes, bytes]] = [(b"x-content-type-options", b"nosniff")]
    if https:
        headers.append((b"strict-transport-security", HSTS.encode()))
    if path.startswith(CROSS_ORIGIN_PREFIXES) or path.startswith(PLAIN_PREFIXES):
        return headers
    csp = DOCS_CSP if path == "/schema" or path.startswith("/schema/") else STAFF_CSP
    return [
        *headers,
        (b"content-security-policy", csp.encode()),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope["path"], https=self.https)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [(name, value) for name, value in extra if name not in present]
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)
