"""The one live-stream engine behind the widget's and the operators' Server-Sent Events.

A stream subscribes to its channels *inside* the response generator (the request's
database session is closed by then: every read opens its own), then asks its source to
catch up from the database, then forwards live events, with a heartbeat on a fixed
schedule. It catches up from the database again on a timer (``catch_up_every``; the
timers of all the streams are one clock, :mod:`messenger.realtime.stream_clock`): a
message whose publish failed after its commit, or that was published while this process's
pub/sub connection was down, still reaches the client within that time; the source drops
what it already sent. What to send is the source's business (:class:`StreamSource`); how to wait,
beat, time out and clean up is written here once.

Two ways to drive a stream. :meth:`LiveStream.events` is an async generator that waits on
the subscriber like any other (the staff stream, through Litestar's response). The widget's
stream is *pumped* (:meth:`LiveStream.pumped`, driven by :mod:`messenger.realtime.sse`): when
nothing is waiting in its subscriber it yields :data:`IDLE` instead of awaiting, the task
that was running it ends, and the next item put in the subscriber starts a new, short-lived
task that resumes it. Why: the garbage collector. A stream that waits in its request's task
keeps, for every wait (15 s between two heartbeats), a new future, the task's wake-up
callback, the ``get()`` coroutine and one ``__anext__`` object per async generator between
the response and the subscriber; they outlive the young collections and are promoted to the
old generation, and CPython 3.11 runs a full collection once the promotions since the last
one pass 25 % of the old generation's size. With 5,000 open streams that was a full
collection every 40 to 45 s, each 0.5 s with the event loop standing still (``/ready`` then
waited: docs/performance.md, "/ready with 5,000 open streams"). An idle pumped stream keeps
no object per wait: its generator stays suspended, and what a beat allocates lives only
while the beat runs (measured: a full collection every ~3 min instead of every ~46 s).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from typing import Any, Final, Protocol, TypeVar, cast

from litestar.channels import ChannelsPlugin
from litestar.response import ServerSentEventMessage

from messenger.metrics import OPEN_STREAMS
from messenger.realtime import draining
from messenger.realtime.events import Envelope, decode
from messenger.realtime.stream_clock import BEAT, CATCH_UP, StreamClock
from messenger.subscribers import LeanSubscriber

#: Clean-ups of closed streams still running (the set keeps a reference to each task).
_CLEAN_UPS: set[asyncio.Future[Any]] = set()

T = TypeVar("T")

#: How soon a drained client comes back (to another process, through the balancer).
RECONNECT_AFTER_MS = 500


class Idle:
    """The type of :data:`IDLE`."""

    __slots__ = ()


#: Yielded by a pumped stream (:meth:`LiveStream.pumped`) when it has nothing to do until the
#: next item in its subscriber (compared by identity; never sent to the client).
IDLE: Final = Idle()


def _nothing() -> None:
    return None


class Pumped:
    """A live stream that does not wait in a task: ``events`` yields the stream's messages
    and :data:`IDLE` when it would wait; it has then asked its subscriber to call ``wake``
    (set by whoever drives it, once per stream) at the next item put. The driver resumes
    ``events`` (in a new task) when woken, and ``aclose()``s it, or cancels the task running
    it, when the client goes."""

    __slots__ = ("events", "wake")

    def __init__(self) -> None:
        self.wake: Callable[[], object] = _nothing
        self.events: AsyncGenerator[ServerSentEventMessage | Idle, None]

    def __aiter__(self) -> AsyncIterator[ServerSentEventMessage]:
        """The messages, for a consumer that is not a driver: it waits in its own task (a
        future per wait, like :meth:`LiveStream.events`)."""
        return self._waiting()

    async def _waiting(self) -> AsyncIterator[ServerSentEventMessage]:
        loop = asyncio.get_running_loop()
        woken: list[asyncio.Future[None]] = []

        def wake() -> None:
            if woken and not woken[0].done():
                woken[0].set_result(None)

        self.wake = wake
        events = self.events
        try:
            while True:
                try:
                    item = await anext(events)
                except StopAsyncIteration:
                    return
                if isinstance(item, Idle):
                    woken[:] = [loop.create_future()]
                    await woken[0]
                else:
                    yield item
        finally:
            await events.aclose()


async def to_completion(work: Coroutine[Any, Any, T]) -> T:
    """Run a stream's database or clean-up work to its end even if the client goes meanwhile.

    When the client goes away the stream is cancelled and every await in it raises
    CancelledError at once; work cut off halfway would abandon a database session (the
    pool logs the broken connection) or leave a subscription behind. So the work runs as a
    task of its own that finishes anyway; the stream itself stops at once.
    """
    task = asyncio.get_running_loop().create_task(work)
    _CLEAN_UPS.add(task)
    task.add_done_callback(_CLEAN_UPS.discard)
    return await asyncio.shield(task)


async def _finished(
    events: AsyncIterator[ServerSentEventMessage],
) -> list[ServerSentEventMessage]:
    """Run a source's database work to its end even when the client goes away meanwhile:
    a cancelled read would leave its connection half-used (the pool then logs a traceback
    closing it). The events are sent only if the stream is still there."""

    async def collect() -> list[ServerSentEventMessage]:
        return [event async for event in events]

    task = asyncio.ensure_future(collect())
    _CLEAN_UPS.add(task)
    task.add_done_callback(_CLEAN_UPS.discard)
    return await asyncio.shield(task)


class StreamSource(Protocol):
    def catch_up(self) -> AsyncIterator[ServerSentEventMessage]:
        """What the database holds that the client has not seen (after subscribing)."""
        ...  # pragma: no cover

    def on_event(self, envelope: Envelope) -> AsyncIterator[ServerSentEventMessage]:
        """What a live event becomes for this client (often nothing)."""
        ...  # pragma: no cover

    async def on_beat(self) -> bool:
        """Called on every heartbeat; False ends the stream (e.g. access was withdrawn)."""
        ...  # pragma: no cover

    async def on_close(self) -> None: ...  # pragma: no cover


# A source may also have ``def catch_up_check(self) -> CatchUpCheck | None``
# (messenger.realtime.stream_clock): where it is, looked up before each timed catch-up (not
# the first) together with the other streams due then; a stream that is not behind is not
# woken. None: it cannot tell (it reads). Not in the Protocol: the staff source has none.


class LiveStream:
    def __init__(
        self,
        channels: ChannelsPlugin,
        names: list[str],
        *,
        audience: str,
        heartbeat_seconds: float,
        max_seconds: float,
        catch_up_again_after: float | None = None,
        catch_up_every: float | None = None,
    ) -> None:
        self._channels = channels
        self._names = names
        self._audience = audience
        self._heartbeat = heartbeat_seconds
        self._max_seconds = max_seconds
        self._catch_up_again_after = catch_up_again_after
        self._catch_up_every = catch_up_every

    def events(self, source: StreamSource) -> AsyncIterator[ServerSentEventMessage]:
        """The stream's messages; waits on the subscriber between them (never :data:`IDLE`)."""
        return cast("AsyncIterator[ServerSentEventMessage]", self._run(source, None))

    def pumped(self, source: StreamSource) -> Pumped:
        """The stream as a :class:`Pumped` (see the module's doc)."""
        pumped = Pumped()
        pumped.events = self._run(source, pumped)
        return pumped

    async def _run(
        self, source: StreamSource, pumped: Pumped | None
    ) -> AsyncGenerator[ServerSentEventMessage | Idle, None]:
        OPEN_STREAMS.labels(audience=self._audience).inc()
        subscriber: LeanSubscriber | None = None
        clock: StreamClock | None = None
        try:
            # Subscribed first, then caught up: nothing published in between is missed.
            subscribed = await self._channels.subscribe(self._names)
            if not isinstance(subscribed, LeanSubscriber):  # pragma: no cover - wiring
                await self._channels.unsubscribe(subscribed)
                raise TypeError("the channels plugin must use subscriber_class=LeanSubscriber")
            subscriber = subscribed
            # Woken with draining.DRAIN at SIGTERM (a set entry, no closure per stream).
            draining.watch(subscriber)
            yield ServerSentEventMessage(comment="connected", data=None, retry=3000)
            for event in await _finished(source.catch_up()):
                yield event
            # The stream waits on its subscriber and nothing else: live events and the
            # process's one clock's wake-ups arrive there. No task, timeout or loop timer
            # per wait, one future only while waiting (none when pumped): an idle stream costs
            # the least it can.
            loop = asyncio.get_running_loop()
            # One more read shortly after subscribing: a publish that raced the
            # subscription is still delivered (from the database, by id). Then one every
            # ``catch_up_every`` seconds: a lost publish is delivered too. A source that
            # can say where it is (``catch_up_check``) is looked up with the other streams
            # due in the same tick, and read only when it is behind.
            first_again = self._catch_up_again_after
            if first_again is None:
                first_again = self._catch_up_every
            clock = StreamClock(
                subscriber,
                started=loop.time(),
                heartbeat=self._heartbeat,
                max_seconds=self._max_seconds,
                first_catch_up=first_again,
                catch_up_every=self._catch_up_every,
                check=getattr(source, "catch_up_check", None),
            )
            while not clock.ended(loop.time()):
                clock.arm()
                try:
                    if pumped is not None:
                        # Nothing to read: hand back until the next item (see the module's
                        # doc). Between the check and the yield nothing else runs, so an
                        # item put later always finds the callback.
                        while not subscriber.qsize:
                            subscriber.notify(pumped.wake)
                            yield IDLE
                    raw = await subscriber.get()
                finally:
                    clock.disarm()
                if raw is None:
                    return  # the subscription was ended (the plugin shuts down)
                if raw is draining.DRAIN:
                    yield ServerSentEventMessage(
                        comment="reconnect", data=None, retry=RECONNECT_AFTER_MS
                    )
                    return
                if raw is not BEAT and raw is not CATCH_UP:
                    for event in await _finished(source.on_event(decode(raw))):
                        yield event
                # A stream kept busy by live events may not be waiting when its tick comes:
                # it still catches up and beats (plain comparisons, nothing armed).
                if raw is CATCH_UP or clock.catch_up_overdue(loop.time()):
                    for event in await _finished(source.catch_up()):
                        yield event
                now = loop.time()
                if clock.ended(now):
                    return
                if clock.beat_due(now):
                    if not await source.on_beat():
                        return
                    yield ServerSentEventMessage(comment="keep-alive", data=None)
        finally:
            if subscriber is not None:
                subscriber.notify(None)
                draining.unwatch(subscriber)
            OPEN_STREAMS.labels(audience=self._audience).dec()
            if clock is not None:
                clock.close()
            await self._clean_up(subscriber, source)

    async def _clean_up(self, subscriber: LeanSubscriber | None, source: StreamSource) -> None:
        channels = self._channels

        async def clean_up() -> None:
            if subscriber is not None:
                with contextlib.suppress(Exception):
                    await channels.unsubscribe(subscriber)
            with contextlib.suppress(Exception):
                await source.on_close()

        # The subscription is freed and presence left now, not at a timeout.
        with contextlib.suppress(asyncio.CancelledError):
            await to_completion(clean_up())
