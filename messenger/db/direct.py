"""A plain asyncpg pool for the few hand-written statements of the widget's hot path.

Why not SQLAlchemy there: a widget send or poll is one statement, and under load the ORM
(session, unit of work, identity map, refresh) and even Core (compilation cache lookups,
result processing) cost several times what the statement itself costs in the server
(docs/performance.md has the profile). asyncpg prepares each statement once per
connection (its statement cache) and decodes rows in C. Everything else — the dashboard,
the CLI, the widget's rare paths — keeps SQLAlchemy.

No ping per checkout: a connection that died (PostgreSQL restarted) fails its statement,
and the statement is retried once on another connection. Every hot statement is safe to
repeat (a send is idempotent by its ``client_msg_id``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from messenger.errors import DomainError
from messenger.i18n import N_

log = logging.getLogger("messenger.db")

#: Errors after which the same statement may succeed on a fresh connection.
_RETRYABLE = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.PostgresConnectionError,
    ConnectionError,
    OSError,
    TimeoutError,
)


class DatabaseUnavailableError(DomainError):
    status_code = 503
    code = "unavailable"

    def __init__(self) -> None:
        super().__init__(
            N_("The service is temporarily unavailable; please try again in a few seconds.")
        )


def asyncpg_dsn(url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy's spelling) → ``postgresql://…``."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """asyncpg's default reset on release is a round trip (``RESET ALL``, ``UNLISTEN *``,
    advisory unlock…) after every statement. The hot statements leave no session state
    (no ``SET``, no ``LISTEN``, no advisory lock, no open transaction — asyncpg still rolls
    back one if a statement was interrupted), so there is nothing to reset."""


class DirectDatabase:
    """The pool is opened on first use (inside the server's event loop) and closed with
    the app. ``size`` connections at most, per process."""

    def __init__(
        self, url: str, size: int, *, timeout: float = 10.0, transaction_pooler: bool = False
    ) -> None:
        self._dsn = asyncpg_dsn(url)
        self._size = size
        self._timeout = timeout
        self._pooled = transaction_pooler
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                server_settings = {"application_name": "messenger-hot-path"}
                if not self._pooled:
                    # Enforced by the server, not by a client timer around every statement.
                    # (A transaction pooler refuses this startup parameter: there the
                    # statement's own timeout below cancels it.)
                    server_settings["statement_timeout"] = str(int(self._timeout * 1000))
                    # One plan per prepared statement, made once per connection. With the
                    # default (``auto``) PostgreSQL planned the poll anew at every call
                    # (planning cost ten times its execution) and, from the id's statistics,
                    # chose to walk every message after the id through the primary key
                    # instead of the conversation's own index: the generic plan never looks
                    # at the values, so it cannot be misled by them (docs/performance.md,
                    # "Plans of the hot statements"). Behind a pooler there is no prepared
                    # statement to keep.
                    server_settings["plan_cache_mode"] = "force_generic_plan"
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=1,
                    max_size=self._size,
                    timeout=self._timeout,
                    # Behind a transaction pooler a prepared statement may be missing on the
                    # server connection the next statement lands on: no cache, asyncpg's
                    # unnamed statements only (``messenger.db.pooled_connect_args``).
                    statement_cache_size=0 if self._pooled else 100,
                    server_settings=server_settings,
                    # A connection idle this long is closed: the pool shrinks after a burst.
                    max_inactive_connection_lifetime=60.0,
                    reset=_keep_session,
                )
            return self._pool

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        """Run one statement (autocommit: it is its own transaction) and return its rows."""
        for attempt in (1, 2):
            try:
                pool = self._pool or await self._open()
                rows: list[asyncpg.Record] = await pool.fetch(
                    query, *args, timeout=self._timeout if self._pooled else None
                )
                return rows
            except _RETRYABLE as exc:
                if attempt == 2:
                    log.warning("database unavailable (%s)", type(exc).__name__)
                    raise DatabaseUnavailableError from None
                log.info("retrying a statement on a fresh connection (%s)", type(exc).__name__)
        raise AssertionError  # unreachable: the loop returns or raises

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
