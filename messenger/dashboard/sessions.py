"""Operator sessions: server-side (Redis, or memory when embedded), keyed by a random cookie.

The session holds only the user id; every request reloads the user, so a deactivated
operator is out at once.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import User

SESSION_USER_KEY = "user_id"
SESSION_EPOCH_KEY = "epoch"


async def load_session_user(
    request: Request[Any, Any, Any], db_session: AsyncSession
) -> User | None:
    user_id = request.session.get(SESSION_USER_KEY) if request.session else None
    if not isinstance(user_id, int):
        return None
    user = await db_session.scalar(select(User).where(User.id == user_id))
    epoch = request.session.get(SESSION_EPOCH_KEY)
    if user is None or not user.is_active or epoch != user.session_epoch:
        request.clear_session()
        return None
    return user


async def provide_current_user(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> User:
    """Dependency of every dashboard page: the signed-in user, or 401 (→ the sign-in page)."""
    user = await load_session_user(request, db_session)
    if user is None:
        raise NotAuthorizedException("Sign in first.")
    return user


def sign_in(request: Request[Any, Any, Any], user: User) -> None:
    request.clear_session()
    request.set_session({SESSION_USER_KEY: user.id, SESSION_EPOCH_KEY: user.session_epoch})


def sign_out(request: Request[Any, Any, Any]) -> None:
    request.clear_session()
