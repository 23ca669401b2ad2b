"""What every dashboard page shares: the language of the request, the staff actions, and the
full-page-or-partial rule. (The router, ``messenger.dashboard.router``, applies them; the
signed-in user comes from ``messenger.dashboard.sessions``, admin access from ``guards``.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import SkipValidation
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.actions import StaffActions
from messenger.conversations.service import ConversationService
from messenger.i18n import negotiate, set_locale
from messenger.state import SharedState

LOCALE_COOKIE = "messenger_locale"
SESSION_LOCALE_KEY = "locale"
SESSION_TZ_KEY = "tz"

AnyRequest = Request[Any, Any, Any]
#: The dashboard router's request class: ``request.htmx`` tells an htmx request apart.
DashboardRequest = HTMXRequest


def locale_hook(default: str) -> Callable[[AnyRequest], Awaitable[None]]:
    """The app's ``before_request``: every request speaks the caller's language."""

    async def hook(request: AnyRequest) -> None:
        apply_locale(request, default)

    return hook


def apply_locale(request: AnyRequest, default: str) -> None:
    """Session choice → cookie → browser → ``MESSENGER_DEFAULT_LOCALE``."""
    session = request.scope.get("session") or {}
    preferred = session.get(SESSION_LOCALE_KEY) if isinstance(session, dict) else None
    preferred = preferred or request.cookies.get(LOCALE_COOKIE)
    timezone = session.get(SESSION_TZ_KEY, "UTC") if isinstance(session, dict) else "UTC"
    set_locale(negotiate(preferred, request.headers.get("accept-language"), default), timezone)


def provide_actions(
    db_session: NamedDependency[AsyncSession],
    shared_state: NamedDependency[SkipValidation[SharedState]],
) -> StaffActions:
    return StaffActions(ConversationService(session=db_session), shared_state)


def page_or_partial(
    request: DashboardRequest,
    page: str,
    partial: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> Template:
    """One rule for every view: an htmx request (not a boosted navigation) gets the partial,
    anything else the full page that includes it."""
    return Template(
        partial if wants_partial(request) else page, context=context, status_code=status_code
    )


def wants_partial(request: DashboardRequest) -> bool:
    return bool(request.htmx) and not request.htmx.boosted
