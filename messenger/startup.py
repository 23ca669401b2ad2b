"""Start-up checks that need the database: plain functions of the settings and a database.

The app runs them as ``on_startup`` hooks (:func:`messenger.app.create_app`); ``messenger
serve`` runs them before it starts uvicorn, so a bad value stops the command with a clean
message instead of a crashed worker.
"""

from __future__ import annotations

import asyncpg
from advanced_alchemy.config import SQLAlchemyAsyncConfig
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from messenger.config import Settings, SettingsError
from messenger.db.models import Branch

__all__ = ["check_default_branch"]


async def check_default_branch(settings: Settings, config: SQLAlchemyAsyncConfig) -> None:
    """Fail start-up when ``MESSENGER_DEFAULT_BRANCH_ID`` names no branch."""
    if settings.default_branch_id is None:
        return
    try:
        async with config.get_session() as session:
            branch = await session.scalar(
                select(Branch).where(Branch.id == settings.default_branch_id)
            )
    except (SQLAlchemyError, OSError, asyncpg.PostgresError) as exc:
        raise SettingsError(
            "MESSENGER_DEFAULT_BRANCH_ID",
            f"cannot check branch {settings.default_branch_id}: the database is not ready "
            f"({type(exc).__name__}); run 'messenger db upgrade' first",
        ) from None
    if branch is None:
        raise SettingsError(
            "MESSENGER_DEFAULT_BRANCH_ID",
            f"there is no branch with id {settings.default_branch_id}; "
            "create it with 'messenger branch create' or fix the value",
        )
