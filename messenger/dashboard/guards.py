"""Route guards of the dashboard."""

from __future__ import annotations

from typing import Any

from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler

from messenger.dashboard.sessions import AnyConnection, signed_in_user

__all__ = ["admin_only"]


async def admin_only(connection: AnyConnection, _: BaseRouteHandler | Any) -> None:
    """Admin pages: a visitor without a session is sent to sign in (401), an operator gets
    404 — operators do not learn that the page exists."""
    user = await signed_in_user(connection)
    if not user.is_admin:
        raise NotFoundException()
