"""The open streams' one clock: heartbeats, timed catch-ups and ends of every stream of the
process on one :class:`~messenger.realtime.wheel.Wheel`.

A stream waits on its subscriber only; the clock puts :data:`BEAT` there when its heartbeat
or its end is due, and :data:`CATCH_UP` when the database may hold a message the client has
not seen. The timed catch-ups of all the streams due in the same tick are checked together:
the streams whose source can say cheaply where it is (:meth:`StreamClock.check`, a
:class:`CatchUpCheck`) are looked up with one query per tick (per database), and only the
streams that are behind are woken to read. An idle stream that is not behind is not woken
for its catch-up at all: 5,000 open streams used to wake about 1,000 times a second for it,
each with a loop timer of its own (docs/performance.md, "/ready with 5,000 open streams").
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, NamedTuple

from messenger.realtime.wheel import Wheel

log = logging.getLogger("messenger.realtime")

#: Put in a stream's subscriber by the clock: "a heartbeat or the end is due". Compared by
#: identity; a published payload is never this object (every envelope is a JSON object).
BEAT = b"\x00beat"
#: Put in a stream's subscriber by the clock: "read from the database what you have not sent".
CATCH_UP = b"\x00catch-up"
#: How coarse the clock is: a due time is rounded up to the next tick.
RESOLUTION_SECONDS = 0.1
#: Timed catch-ups that are looked up are put on this grid (rounded up): the streams due
#: within it share one lookup (5,000 streams every 5 s: two lookups a second of ~500 keys,
#: not ten of ~100; each lookup is a pool checkout, a transaction and a statement).
CHECK_GRID_SECONDS = 0.5
#: The most keys one lookup asks for (larger groups are split).
MAX_KEYS = 2000

#: The newest id for each of many keys, in one read; keys it finds nothing for are absent.
Newest = Callable[[list[Any]], Awaitable[dict[Any, int]]]


class CatchUpCheck(NamedTuple):
    """Where a stream is: it is behind when ``newest`` finds an id after ``after`` for
    ``key``. Streams whose ``newest`` is the same object are looked up together."""

    newest: Newest
    key: Hashable
    after: int


class StreamClock:
    """One stream's due times, and its place on the process's wheel while it waits."""

    __slots__ = (
        "again_at",
        "check",
        "checking",
        "closed",
        "ends_at",
        "every",
        "heartbeat",
        "next_beat",
        "subscriber",
        "tick",
    )

    def __init__(
        self,
        subscriber: Any,
        *,
        started: float,
        heartbeat: float,
        max_seconds: float,
        first_catch_up: float | None,
        catch_up_every: float | None,
        check: Callable[[], CatchUpCheck | None] | None,
    ) -> None:
        self.subscriber = subscriber
        self.heartbeat = heartbeat
        self.next_beat = started + heartbeat
        self.ends_at = started + max_seconds
        self.every = catch_up_every
        self.check = check
        self.again_at = (
            self.on_grid(started + first_catch_up) if first_catch_up is not None else None
        )
        self.checking = False
        self.closed = False
        self.tick: int | None = None

    def on_grid(self, when: float) -> float:
        """A catch-up that is looked up, put on the grid its lookup is shared on."""
        if self.check is None:
            return when
        return math.ceil(when / CHECK_GRID_SECONDS) * CHECK_GRID_SECONDS

    def _wake_at(self) -> float:
        wake = min(self.next_beat, self.ends_at)
        if self.again_at is not None and not self.checking:
            wake = min(wake, self.again_at)
        return wake

    def arm(self) -> None:
        """On the wheel until :meth:`disarm` (the stream is about to wait)."""
        wheel = _wheel()
        if self.tick is not None:
            wheel.remove(self, self.tick)
        self.tick = wheel.schedule(self, self._wake_at())

    def disarm(self) -> None:
        if self.tick is not None:
            _wheel().remove(self, self.tick)
            self.tick = None

    def close(self) -> None:
        self.disarm()
        self.closed = True

    def beat_due(self, now: float) -> bool:
        """True (and the next beat moved on) when the heartbeat is due at ``now``."""
        if now + _EARLY < self.next_beat:
            return False
        self.next_beat = _next(self.next_beat, self.heartbeat, now)
        return True

    def catch_up_overdue(self, now: float) -> bool:
        """True (and the next one moved on) when a timed catch-up is past due by more than
        the clock's slack: the stream was never waiting when its tick came."""
        again_at = self.again_at
        if again_at is None or self.checking or now < again_at + _OVERDUE:
            return False
        self.again_at = self.on_grid(_next(again_at, self.every, now)) if self.every else None
        return True

    def ended(self, now: float) -> bool:
        return now + _EARLY >= self.ends_at


#: Slack for a loop that runs a timer a hair before its time.
_EARLY = 0.001
#: How late a timed catch-up may be before a stream that is never found waiting reads
#: without the clock (a few ticks: a busy loop runs the clock late too).
_OVERDUE = 5 * RESOLUTION_SECONDS


def _next(due: float, every: float, now: float) -> float:
    """The next due time on the stream's own schedule (the tick's rounding up does not add
    up from one beat to the next), or a whole period from now when that one is past too."""
    after = due + every
    return after if after > now else now + every


class _Current:
    """The process's wheel and the loop it runs on (one loop per process; tests make more)."""

    loop: asyncio.AbstractEventLoop | None = None
    wheel: Wheel[StreamClock] | None = None


#: The lookups running (the set keeps a reference to each task).
_checks: set[asyncio.Task[None]] = set()


def _wheel() -> Wheel[StreamClock]:
    """The running loop's wheel (a new loop, e.g. in tests, gets a new one)."""
    loop = asyncio.get_running_loop()
    wheel = _Current.wheel
    if wheel is None or _Current.loop is not loop:
        if wheel is not None:
            wheel.close()
        wheel = _Current.wheel = Wheel(loop, _due, resolution=RESOLUTION_SECONDS)
        _Current.loop = loop
    return wheel


def waiting() -> int:
    """How many streams are on the clock (waiting)."""
    return 0 if _Current.wheel is None else len(_Current.wheel)


def _due(clocks: list[StreamClock]) -> None:
    loop = asyncio.get_running_loop()
    now = loop.time()
    # Two lists per lookup, not a pair per stream: they are alive while the lookup waits
    # for the database, and the young collections that run meanwhile would promote a
    # pair per stream to the old generation (whose growth brings the full collections).
    groups: dict[Newest, tuple[list[StreamClock], list[CatchUpCheck]]] = {}
    for clock in clocks:
        clock.tick = None
        if clock.closed:
            continue
        woken = False
        if now + _EARLY >= min(clock.next_beat, clock.ends_at):
            clock.subscriber.put_nowait(BEAT)
            woken = True
        again_at = clock.again_at
        if again_at is not None and not clock.checking and now + _EARLY >= again_at:
            clock.again_at = (
                clock.on_grid(_next(again_at, clock.every, now)) if clock.every else None
            )
            check = clock.check() if clock.check is not None else None
            if check is None:
                clock.subscriber.put_nowait(CATCH_UP)
                woken = True
            else:
                clock.checking = True
                group = groups.get(check.newest)
                if group is None:
                    group = groups[check.newest] = ([], [])
                group[0].append(clock)
                group[1].append(check)
        if not woken:
            # Still waiting (only a lookup went out, or the loop ran the tick early).
            clock.arm()
    for newest, (due_clocks, checks) in groups.items():
        for start in range(0, len(due_clocks), MAX_KEYS):
            end = start + MAX_KEYS
            task = loop.create_task(_look_up(newest, due_clocks[start:end], checks[start:end]))
            _checks.add(task)
            task.add_done_callback(_checks.discard)


async def _look_up(newest: Newest, clocks: list[StreamClock], checks: list[CatchUpCheck]) -> None:
    try:
        found: dict[Any, int] | None = await newest([check.key for check in checks])
    except Exception as exc:  # any failure: each stream reads for itself
        log.warning("the streams' catch-up lookup failed (%s); they read", type(exc).__name__)
        found = None
    for clock, check in zip(clocks, checks, strict=True):
        clock.checking = False
        if clock.closed:
            continue
        top = None if found is None else found.get(check.key)
        if found is None or (top is not None and top > check.after):
            clock.subscriber.put_nowait(CATCH_UP)
        elif clock.tick is not None:
            clock.arm()  # waiting: now also for its next catch-up
