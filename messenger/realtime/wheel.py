"""A coarse timer for many waiters: one loop timer per process instead of one per waiter.

Thousands of open streams each wait for their next heartbeat, timed catch-up or end. A loop
timer per wait (``loop.call_at``) costs a ``TimerHandle`` per stream, a heap push and a
cancel per wait, and wakes every stream on its own at its own moment. A :class:`Wheel`
rounds each due time up to its ``resolution`` and keeps the waiters due at the same tick
together (a dict per tick: adding, moving and removing one is a dict operation); one loop
timer, armed for the earliest tick that has waiters, hands each tick's waiters to ``due``
in one call, which can then treat them in bulk (one database lookup for all of them).

Not the loop's own scheduler nor a library: asyncio has no batched timers, and the libraries
of hashed timer wheels are synchronous (threads) or add their own loop.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

E = TypeVar("E", bound=Hashable)


class Wheel(Generic[E]):
    """``schedule(entry, when)`` -> the tick it will be handed to ``due`` at (or soon after);
    ``remove(entry, tick)`` takes it out before. An entry is in at most one tick (the caller
    keeps the tick it was given and removes it before scheduling it again)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        due: Callable[[list[E]], None],
        *,
        resolution: float = 0.1,
    ) -> None:
        self._loop = loop
        self._due = due
        self._resolution = resolution
        self._ticks: dict[int, dict[E, None]] = {}
        #: The ticks of ``_ticks``, smallest first (a tick's number is pushed once).
        self._order: list[int] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_tick: int | None = None

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._ticks.values())

    def schedule(self, entry: E, when: float) -> int:
        tick = math.ceil(when / self._resolution)
        entries = self._ticks.get(tick)
        if entries is None:
            entries = self._ticks[tick] = {}
            heapq.heappush(self._order, tick)
        entries[entry] = None
        if self._timer_tick is None or tick < self._timer_tick:
            self._arm(tick)
        return tick

    def remove(self, entry: E, tick: int) -> None:
        entries = self._ticks.get(tick)
        if entries is not None:
            entries.pop(entry, None)
        # An emptied tick stays until its time: the timer then finds nothing and moves on.

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_tick = None
        self._ticks.clear()
        self._order.clear()

    def _arm(self, tick: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_tick = tick
        self._timer = self._loop.call_at(tick * self._resolution, self._fire)

    def _fire(self) -> None:
        fired = self._timer_tick
        self._timer = self._timer_tick = None
        # Every tick whose time has come: the one the timer was for (the loop may run it a
        # hair early) and any later one passed meanwhile (the loop may be late).
        now_tick = math.floor(self._loop.time() / self._resolution)
        if fired is not None:
            now_tick = max(now_tick, fired)
        ready: list[E] = []
        order = self._order
        while order and order[0] <= now_tick:
            entries = self._ticks.pop(heapq.heappop(order), None)
            if entries:
                ready.extend(entries)
        if order:
            self._arm(order[0])
        if ready:
            self._due(ready)
