"""Who is calling the Widget API: a session call admitted (token, limits, inbox, origin)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.exceptions import NotAuthorizedException, NotFoundException

from messenger.client_ip import client_ip
from messenger.config import Settings
from messenger.db.models import Inbox
from messenger.i18n import N_
from messenger.inboxes.cache import InboxCache
from messenger.visitors.service import Caller
from messenger.widget.security import check_origin
from messenger.widget.sessions import SessionSigner, WidgetSession

AnyRequest = Request[Any, Any, Any]


@dataclass(frozen=True, slots=True)
class Visit:
    """An authenticated widget call: the session, its inbox and who is calling."""

    session: WidgetSession
    inbox: Inbox
    caller: Caller


def caller_of(request: AnyRequest, settings: Settings) -> Caller:
    return Caller(
        ip=client_ip(request, settings.trusted_proxies),
        user_agent=request.headers.get("user-agent"),
        accept_language=request.headers.get("accept-language"),
    )


def bearer(request: AnyRequest) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


#: A call's limits, counted before its inbox is read: ``limit(ip, session_key)`` answers
#: the inboxes' generation (see :class:`messenger.widget.throttle.Throttle`).
LimitCheck = Callable[[str, str], Awaitable[int]]


class Visits:
    """Admits a session call: token, limits, inbox, origin — in that order, so that a
    call costs one Redis round trip (limits + the inbox cache's generation) and, in the
    common case, no database read."""

    def __init__(self, settings: Settings, signer: SessionSigner, inboxes: InboxCache) -> None:
        self._settings = settings
        self._signer = signer
        self._inboxes = inboxes

    async def check(self, request: AnyRequest, limit: LimitCheck | None) -> Visit:
        """``Authorization: Bearer <session_token>``, or 401/429/404/403."""
        return await self.admit(request, self._signer.verify(bearer(request)), limit)

    async def admit(
        self, request: AnyRequest, session: WidgetSession | None, limit: LimitCheck | None
    ) -> Visit:
        if session is None:
            raise NotAuthorizedException(
                N_("Missing, expired or invalid session token; bootstrap again.")
            )
        caller = caller_of(request, self._settings)
        if limit is None:
            await self._inboxes.refresh()
        else:
            self._inboxes.observe(await limit(caller.ip, str(session.visitor_id)))
        cached = await self._inboxes.by_id(session.inbox_id)
        if cached is None:
            raise NotFoundException(N_("This chat no longer exists."))
        if cached.inbox.session_revoked(session.issued_at):  # ended by a token rotation
            raise NotAuthorizedException(
                N_("Missing, expired or invalid session token; bootstrap again.")
            )
        check_origin(request, cached.inbox, caller.ip, cached.allowed_domains)
        return Visit(session=session, inbox=cached.inbox, caller=caller)
