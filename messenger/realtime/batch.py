"""One query for many streams: lookups by key, coalesced over a short window.

Thousands of open streams each re-read the database on a timer (the catch-up that delivers
a message whose live event was lost). One read per stream every few seconds is hundreds of
transactions a second for a few thousand streams, most of them finding nothing. Each stream
asks instead "what is the newest id for my key?"; the lookups that arrive within ``window``
seconds go to the database as one query, and only a stream that is behind reads its page.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Fetch = Callable[[list[K]], Awaitable[dict[K, V]]]


class Coalescer(Generic[K, V]):
    """``await get(key)``: the value ``fetch`` finds for the key (None when it finds none),
    fetched together with every other key asked for in the same window. A failed fetch
    raises in every caller of that batch (each then does its own, slower read)."""

    def __init__(self, fetch: Fetch[K, V], *, window: float = 0.05, max_keys: int = 500) -> None:
        self._fetch = fetch
        self._window = window
        self._max_keys = max_keys
        self._pending: dict[K, asyncio.Future[V | None]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def get(self, key: K) -> V | None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (tests): nothing pending carries over
            self._loop, self._pending, self._timer = loop, {}, None
        future = self._pending.get(key)
        if future is None:
            future = loop.create_future()
            self._pending[key] = future
            if len(self._pending) >= self._max_keys:
                self._flush()
            elif self._timer is None:
                self._timer = loop.call_later(self._window, self._flush)
        # Shielded: a caller that goes away does not cancel the answer of the others.
        return await asyncio.shield(future)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, {}
        if not batch:
            return
        assert self._loop is not None
        task = self._loop.create_task(self._run(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, batch: dict[K, asyncio.Future[V | None]]) -> None:
        try:
            found = await self._fetch(list(batch))
        except Exception as exc:
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
                    # Retrieved here so a batch nobody awaits any more logs no warning.
                    with contextlib.suppress(Exception):
                        future.exception()
            return
        for key, future in batch.items():
            if not future.done():
                future.set_result(found.get(key))
