"""Operator sessions: server-side (Redis, or memory when embedded), keyed by a random cookie.

The session holds the user id, their password epoch and their access (role and branches);
every request reloads the user (once: the admin guard and the ``current_user`` dependency
share it), so a deactivated operator is out at once.

Session fixation is closed in :class:`StaffSessionBackend`: a cookie id the store does not
know is never adopted (a fresh random id is issued instead), and sign-in, a password change
and a change of role or branches each move the session to a new id and delete the old one
server-side. Under https the cookies are ``__Host-`` prefixed and ``Secure``
(:func:`cookie_names`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from advanced_alchemy.extensions.litestar.plugins import SQLAlchemyInitPlugin
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.middleware.csrf import generate_csrf_token
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.types import Message, ScopeSession
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from messenger.client_ip import client_ip
from messenger.db.audit import Actor, set_actor
from messenger.db.models import User

SESSION_USER_KEY = "user_id"
SESSION_EPOCH_KEY = "epoch"
SESSION_ACCESS_KEY = "access"
#: When the session was last written to the store (epoch seconds): see RENEW_EVERY_SECONDS.
SESSION_RENEWED_KEY = "renewed"
#: An unchanged session is written again (its expiry and cookie renewed) at most this often.
RENEW_EVERY_SECONDS = 300
#: The wall clock of the renewal check (a test moves this one, not the process's).
clock = time.time
#: Scope-state keys of the session backend: the id the store knew, the one issued instead,
#: and the request's wish for a new id.
_KNOWN_ID = "messenger_session_known_id"
_FRESH_ID = "messenger_session_fresh_id"
_ROTATE = "messenger_session_rotate"
#: The session's stored bytes as this request loaded them (to tell an unchanged one).
_LOADED = "messenger_session_loaded"
#: Where the signed-in user of this request is kept once loaded (in the scope's state).
_USER_STATE_KEY = "messenger_staff_user"

AnyConnection = ASGIConnection[Any, Any, Any, Any]
#: The app state's copy of ``MESSENGER_TRUSTED_PROXIES`` (set by the app factory).
TRUSTED_PROXIES_KEY = "trusted_proxies"


def cookie_names(public_url: str) -> tuple[str, str]:
    """The session and CSRF cookie names: ``__Host-`` prefixed under https (the browser then
    insists on ``Secure``, ``Path=/`` and no ``Domain``, so neither a sibling subdomain nor
    plain http can plant or read them); plain names under http, so local dev works."""
    if public_url.startswith("https://"):
        return "__Host-messenger_session", "__Host-messenger_csrf"
    return "messenger_session", "messenger_csrf"


def access_of(user: User) -> str:
    """What a session may reach: the role and the branches (a change moves the session to a
    new id and ends the user's open streams)."""
    return f"{user.role.value}:{','.join(str(b) for b in sorted(user.branch_ids))}"


class StaffSessionBackend(ServerSideSessionBackend):
    """Litestar's server-side sessions, without adopting ids: only an id found in the store
    is used again; anything else gets a fresh random id. ``rotate_session`` moves the data
    to a new id and deletes the old one."""

    async def load_from_connection(self, connection: AnyConnection) -> dict[str, Any]:
        session_id = connection.cookies.get(self.config.key)
        if session_id and session_id != "null":
            store = self.config.get_store_from_app(connection.scope["app"])
            data = await self.get(session_id, store=store)
            if data is not None:
                _state(connection)[_KNOWN_ID] = session_id
                _state(connection)[_LOADED] = data
                return self.deserialize_data(data)
        return {}

    def get_session_id(self, connection: AnyConnection) -> str:
        state = _state(connection)
        known = state.get(_KNOWN_ID)
        if isinstance(known, str) and not state.get(_ROTATE):
            return known
        fresh = state.get(_FRESH_ID)
        if not isinstance(fresh, str):
            fresh = state[_FRESH_ID] = self.generate_session_id()
        return fresh

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: AnyConnection
    ) -> None:
        state = _state(connection)
        known = state.get(_KNOWN_ID)
        if isinstance(known, str) and state.get(_ROTATE):
            # The old id is dead server-side: a copy of the old cookie opens nothing.
            await self.delete(known, store=self.config.get_store_from_app(connection.scope["app"]))
        elif isinstance(known, str) and isinstance(scope_session, dict) and scope_session:
            # Litestar writes the session back (and sets its cookie again) on every answer,
            # which is what slides its expiry: a store round trip per dashboard request.
            # An unchanged session renewed less than RENEW_EVERY_SECONDS ago is left as it
            # is (it then expires at most that much earlier than with a write every time).
            renewed = scope_session.get(SESSION_RENEWED_KEY)
            now = int(clock())
            if (
                isinstance(renewed, int)
                and 0 <= now - renewed < RENEW_EVERY_SECONDS
                and self.serialize_data(scope_session, connection.scope) == state.get(_LOADED)
            ):
                return
        if isinstance(scope_session, dict) and scope_session:
            scope_session[SESSION_RENEWED_KEY] = int(clock())
        await super().store_in_message(scope_session, message, connection)


@dataclass
class StaffSessionConfig(ServerSideSessionConfig):
    _backend_class = StaffSessionBackend


def _state(connection: AnyConnection) -> dict[str, Any]:
    state: dict[str, Any] = connection.scope.setdefault("state", {})
    return state


def rotate_session(connection: AnyConnection) -> None:
    """Answer this request under a new session id; the old one is deleted from the store."""
    _state(connection)[_ROTATE] = True


async def load_session_user(connection: AnyConnection, db_session: AsyncSession) -> User | None:
    user_id = connection.session.get(SESSION_USER_KEY) if connection.session else None
    if not isinstance(user_id, int):
        return None
    # Branch membership decides the user's scope on every page: loaded with the user, in
    # the same statement (joined: one round trip instead of the relationship's selectin).
    result = await db_session.execute(
        select(User).where(User.id == user_id).options(joinedload(User.branches))
    )
    user = result.unique().scalar_one_or_none()
    epoch = connection.session.get(SESSION_EPOCH_KEY)
    if user is None or not user.is_active or epoch != user.session_epoch:
        connection.clear_session()
        return None
    if connection.session.get(SESSION_ACCESS_KEY) != access_of(user):
        # Promoted, demoted or moved between branches: same user, new session id.
        connection.session[SESSION_ACCESS_KEY] = access_of(user)
        rotate_session(connection)
    return user


def request_db_session(connection: AnyConnection) -> AsyncSession:
    """The request's own database session (the one ``db_session`` injects later): guards run
    before dependencies are resolved, so they ask advanced-alchemy's config for it."""
    plugin = connection.app.plugins.get(SQLAlchemyInitPlugin)
    config = next(c for c in plugin.config if isinstance(c, SQLAlchemyAsyncConfig))
    return config.provide_session(connection.app.state, connection.scope)


async def signed_in_user(connection: AnyConnection, db_session: AsyncSession | None = None) -> User:
    """The signed-in user of this request, or 401 (→ the sign-in page); loaded once."""
    state = connection.scope.setdefault("state", {})
    user = state.get(_USER_STATE_KEY)
    if user is None:
        db = db_session or request_db_session(connection)
        user = await load_session_user(connection, db)
        if user is None:
            raise NotAuthorizedException("Sign in first.")
        state[_USER_STATE_KEY] = user
        # Whatever this request changes is audited as this user, from this address.
        set_actor(db, staff_actor(connection, user))
    return user


def staff_actor(connection: AnyConnection, user: User) -> Actor:
    """The audit's "who": the user, their e-mail now, and the client's address."""
    proxies = connection.app.state.get(TRUSTED_PROXIES_KEY, ())
    return Actor(user.id, user.email, client_ip(connection, proxies))


async def provide_signed_in_user(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> User:
    """``current_user`` of every dashboard page (the router provides it): the signed-in user,
    or 401 (→ the sign-in page)."""
    return await signed_in_user(request, db_session)


async def provide_current_user(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> User:
    """The same, for a controller that still declares ``current_user`` itself (the staff
    stream). A separate function on purpose: Litestar refuses an equal provider declared
    again on a lower layer. Remove it once no controller repeats the dependency."""
    return await signed_in_user(request, db_session)


def sign_in(connection: AnyConnection, user: User) -> None:
    """A new session (new id, old one deleted) holding only this user."""
    connection.set_session(
        {
            SESSION_USER_KEY: user.id,
            SESSION_EPOCH_KEY: user.session_epoch,
            SESSION_ACCESS_KEY: access_of(user),
        }
    )
    rotate_session(connection)


def sign_out(connection: AnyConnection) -> None:
    connection.clear_session()


def renew_csrf(connection: AnyConnection, response: Response[Any]) -> None:
    """A new CSRF token for the new session: one seen before sign-in (perhaps planted with
    the cookie) is worth nothing after it."""
    config = connection.app.csrf_config
    if config is None:
        return
    response.set_cookie(
        config.cookie_name,
        generate_csrf_token(config.secret),
        path=config.cookie_path,
        secure=config.cookie_secure,
        httponly=config.cookie_httponly,
        samesite=config.cookie_samesite,
        domain=config.cookie_domain,
    )
