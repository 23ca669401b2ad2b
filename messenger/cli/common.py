"""What every command shares: settings loading, one database session, output, errors."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, NoReturn, TypeVar

import asyncpg
import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.backends import Backends
from messenger.config import Settings, SettingsError, get_settings
from messenger.db import alchemy_config
from messenger.db.audit import CLI, set_actor
from messenger.db.events import take_committed_inbox_changes
from messenger.errors import DomainError
from messenger.inboxes.cache import GENERATION_KEY

T = TypeVar("T")
# Raised by the driver while connecting (refused, unknown host, no such database); SQLAlchemy
# wraps errors of statements, not these.
CONNECT_ERRORS = (OSError, asyncpg.PostgresError)


class CliError(click.ClickException):
    """A message for the person at the terminal, and exit status 1."""

    def format_message(self) -> str:
        return self.message


def configuration_error(exc: SettingsError) -> NoReturn:
    """A bad setting: one line on stderr, exit status 2."""
    click.echo(f"configuration error: {exc}", err=True)
    sys.exit(2)


def load_settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        configuration_error(exc)


async def announce_inbox_changes(settings: Settings) -> None:
    """Tell the running app processes that an inbox changed (their caches drop it)."""
    backends = Backends.from_settings(settings)
    try:
        await backends.state.bump(GENERATION_KEY)
    except Exception as exc:  # the change is committed; caches expire on their own
        click.echo(
            f"warning: running servers were not told of the change ({type(exc).__name__}); "
            "they see it within a minute",
            err=True,
        )
    finally:
        await backends.close()


def run_db(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    """Run ``work`` in one session; domain and database errors become clean CLI errors."""
    settings = load_settings()
    config = alchemy_config(settings)

    async def runner() -> T:
        try:
            async with config.get_session() as session:
                set_actor(session, CLI)  # what a command changes is audited as "cli"
                result = await work(session, settings)
                await session.commit()  # the command is the unit of work: services never commit
                if take_committed_inbox_changes(session):
                    await announce_inbox_changes(settings)
                return result
        finally:
            await config.get_engine().dispose()

    try:
        return asyncio.run(runner())
    except DomainError as exc:
        raise CliError(f"{exc.detail}") from None
    except (SQLAlchemyError, *CONNECT_ERRORS) as exc:
        raise CliError(
            f"the database refused the operation ({type(exc).__name__}); "
            "is it reachable and migrated ('messenger db upgrade')?"
        ) from None


SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def run_units(work: Callable[[SessionFactory, Settings], Awaitable[T]]) -> T:
    """Like :func:`run_db` for long work: ``work`` opens one short unit of work per batch
    with the factory it is given (each commits on leaving its block, audited as ``cli``)."""
    settings = load_settings()
    config = alchemy_config(settings)

    @asynccontextmanager
    async def unit() -> AsyncIterator[AsyncSession]:
        async with config.get_session() as session:
            set_actor(session, CLI)
            yield session
            await session.commit()

    async def runner() -> T:
        try:
            return await work(unit, settings)
        finally:
            await config.get_engine().dispose()

    try:
        return asyncio.run(runner())
    except DomainError as exc:
        raise CliError(f"{exc.detail}") from None
    except (SQLAlchemyError, *CONNECT_ERRORS) as exc:
        raise CliError(
            f"the database refused the operation ({type(exc).__name__}); "
            "is it reachable and migrated ('messenger db upgrade')?"
        ) from None


def emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else text)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
