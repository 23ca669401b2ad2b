"""Operator sessions: server-side (Redis, or memory when embedded), keyed by a random cookie.

The session holds only the user id; every request reloads the user (once: the admin guard
and the ``current_user`` dependency share it), so a deactivated operator is out at once.
"""

from __future__ import annotations

from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from advanced_alchemy.extensions.litestar.plugins import SQLAlchemyInitPlugin
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from messenger.db.models import User

SESSION_USER_KEY = "user_id"
SESSION_EPOCH_KEY = "epoch"
#: Where the signed-in user of this request is kept once loaded (in the scope's state).
_USER_STATE_KEY = "messenger_staff_user"

AnyConnection = ASGIConnection[Any, Any, Any, Any]


async def load_session_user(connection: AnyConnection, db_session: AsyncSession) -> User | None:
    user_id = connection.session.get(SESSION_USER_KEY) if connection.session else None
    if not isinstance(user_id, int):
        return None
    user = await db_session.scalar(
        # Branch membership decides the user's scope on every page: loaded with the user.
        select(User).where(User.id == user_id).options(selectinload(User.branches))
    )
    epoch = connection.session.get(SESSION_EPOCH_KEY)
    if user is None or not user.is_active or epoch != user.session_epoch:
        connection.clear_session()
        return None
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
        user = await load_session_user(connection, db_session or request_db_session(connection))
        if user is None:
            raise NotAuthorizedException("Sign in first.")
        state[_USER_STATE_KEY] = user
    return user


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
    connection.clear_session()
    connection.set_session({SESSION_USER_KEY: user.id, SESSION_EPOCH_KEY: user.session_epoch})


def sign_out(connection: AnyConnection) -> None:
    connection.clear_session()
