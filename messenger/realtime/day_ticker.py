"""The operator's day's periodic work, run in every app process: wake snoozed conversations
whose time has come, and return offline operators' waiting conversations to the pool.

Both functions are idempotent and safe with several processes (conditional UPDATEs in
:mod:`messenger.conversations.snooze` and :mod:`messenger.conversations.assignment`); each
runs in its own unit of work, so its events are published after its commit. A job worker
may call :func:`run_day_jobs` (or the two service functions) too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from messenger.conversations.assignment import return_offline_to_pool
from messenger.conversations.snooze import wake_snoozed
from messenger.presence import Presence
from messenger.realtime.publisher import Publisher
from messenger.realtime.transaction import SessionFactory, transaction

log = logging.getLogger("messenger.day")


async def run_day_jobs(
    sessions: SessionFactory,
    publisher: Publisher,
    presence: Presence,
    *,
    offline_minutes: int,
    now: datetime | None = None,
) -> tuple[int, int]:
    """One round: (conversations woken, conversations returned to the pool)."""
    moment = now or datetime.now(UTC)
    async with transaction(sessions, publisher) as db:
        woke = await wake_snoozed(db, moment)
    async with transaction(sessions, publisher) as db:
        returned = await return_offline_to_pool(db, presence, moment, offline_minutes)
    return woke, returned


class DayTicker:
    """Calls :func:`run_day_jobs` every ``interval`` seconds until stopped."""

    def __init__(
        self,
        sessions: SessionFactory,
        publisher: Publisher,
        presence: Presence,
        *,
        interval: float,
        offline_minutes: int,
    ) -> None:
        self._sessions = sessions
        self._publisher = publisher
        self._presence = presence
        self._interval = interval
        self._offline_minutes = offline_minutes
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None and self._interval > 0:
            self._task = asyncio.create_task(self._run(), name="messenger-day-ticker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await run_day_jobs(
                    self._sessions,
                    self._publisher,
                    self._presence,
                    offline_minutes=self._offline_minutes,
                )
            except Exception as exc:  # the next round tries again
                log.warning("the day's periodic work failed (%s)", type(exc).__name__)
