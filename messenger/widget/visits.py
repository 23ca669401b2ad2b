"""Who is calling the Widget API: a session call admitted (token, limits, inbox, origin)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.exceptions import NotAuthorizedException, NotFoundException

from messenger.client_ip import client_ip
from messenger.config import Settings
from messenger.contacts.identity import identity_required
from messenger.db.models import Inbox
from messenger.i18n import N_
from messenger.inboxes.cache import CachedInbox, InboxCache
from messenger.visitors.service import Caller
from messenger.widget.security import check_origin, mark_allowed, origin_refusal
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
        """Refusals come in the documented order — 401 token, 404 inbox, 401 revoked, 403
        origin, then 429 limits — so a refused origin never spends the caller's budget.
        The inbox is checked from the cache first; the limits' round trip then tells
        whether that cache was stale, and a stale one is checked again."""
        if session is None:
            raise NotAuthorizedException(
                N_("Missing, expired or invalid session token; bootstrap again.")
            )
        caller = caller_of(request, self._settings)
        inbox = await self._admitted(request, session, caller)
        if limit is None:
            stale = await self._inboxes.refresh()
        else:
            stale = self._inboxes.observe(await limit(caller.ip, str(session.visitor_id)))
        if stale:
            inbox = await self._admitted(request, session, caller)
        return Visit(session=session, inbox=inbox, caller=caller)

    async def bootstrap(
        self, request: AnyRequest, widget_token: str, limit: Callable[[str], Awaitable[int]]
    ) -> tuple[CachedInbox, Caller]:
        """A bootstrap's inbox by its public token: 404 unknown, 403 origin, then 429."""
        caller = caller_of(request, self._settings)
        cached = await self._by_token(request, widget_token, caller)
        if self._inboxes.observe(await limit(caller.ip)):
            cached = await self._by_token(request, widget_token, caller)
        return cached, caller

    async def _by_token(
        self, request: AnyRequest, widget_token: str, caller: Caller
    ) -> CachedInbox:
        cached = await self._inboxes.by_token(widget_token)
        if cached is not None and origin_refusal(request, cached.allowed_domains) is None:
            mark_allowed(request)
            return cached
        await self._inboxes.refresh()  # a refusal is answered from a current cache only
        cached = await self._inboxes.by_token(widget_token)
        if cached is None:
            raise NotFoundException(N_("Unknown widget token."))
        check_origin(request, cached.inbox, caller.ip, cached.allowed_domains)
        return cached

    async def _admitted(self, request: AnyRequest, session: WidgetSession, caller: Caller) -> Inbox:
        cached = await self._inboxes.by_id(session.inbox_id)
        if (
            cached is not None
            and not cached.inbox.session_revoked(session.issued_at)
            and origin_refusal(request, cached.allowed_domains) is None
        ):
            mark_allowed(request)
            _require_identity(cached, session)
            return cached.inbox
        # A refusal is answered only from a cache known to be current.
        await self._inboxes.refresh()
        cached = await self._inboxes.by_id(session.inbox_id)
        if cached is None:
            raise NotFoundException(N_("This chat no longer exists."))
        if cached.inbox.session_revoked(session.issued_at):  # ended by a token rotation
            raise NotAuthorizedException(
                N_("Missing, expired or invalid session token; bootstrap again.")
            )
        check_origin(request, cached.inbox, caller.ip, cached.allowed_domains)
        _require_identity(cached, session)
        return cached.inbox


def _require_identity(cached: CachedInbox, session: WidgetSession) -> None:
    """An inbox that requires signed identities serves no anonymous session (one issued
    before the setting was turned on included)."""
    if cached.settings.identity.required and not session.identified:
        raise identity_required()
