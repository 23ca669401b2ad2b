"""The open streams' one clock (``messenger/realtime/stream_clock.py`` on a ``Wheel``): every
stream still gets its keep-alive on time, a lost publish still arrives by the timed
catch-up (one lookup for the streams due together, a read only for a stream that is
behind), streams still end at their maximum duration, and nothing stays on the clock.

Each test runs twice: with the stream read in a task that waits (``LiveStream.events``, the
staff stream) and pumped by the response's driver (``LiveStream.pumped``, the widget's)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.response import ServerSentEventMessage

from messenger.backends import _channels
from messenger.realtime import draining, stream_clock
from messenger.realtime.events import Envelope
from messenger.realtime.sse import _Pump
from messenger.realtime.stream import LiveStream
from messenger.realtime.stream_clock import CatchUpCheck
from messenger.realtime.wheel import Wheel
from tests.support.waiting import eventually


@pytest.fixture(autouse=True)
def fresh_draining(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(draining, "_draining", False)
    monkeypatch.setattr(draining, "_streams", set())


class Driven:
    pumped = False


@pytest.fixture(autouse=True, params=["waiting", "pumped"])
def driven(request: pytest.FixtureRequest) -> None:
    Driven.pumped = request.param == "pumped"


def parse(chunk: bytes) -> ServerSentEventMessage:
    """One encoded event back (what the tests look at: comment, event, data)."""
    item = ServerSentEventMessage(data=None)
    for line in filter(None, chunk.decode().splitlines()):
        name, _, value = line.partition(": ")
        if name == "":
            item.comment = value
        elif name in ("event", "data"):
            setattr(item, name, value)
    return item


class Database:
    """The newest id per stream key, and every lookup asked of it."""

    def __init__(self) -> None:
        self.newest: dict[Any, int] = {}
        self.lookups: list[list[Any]] = []
        self.fail = False

    async def lookup(self, keys: list[Any]) -> dict[Any, int]:
        self.lookups.append(list(keys))
        await asyncio.sleep(0)
        if self.fail:
            raise OSError("the database is away")
        return {key: self.newest[key] for key in keys if key in self.newest}


class Source:
    def __init__(self, key: int, database: Database | None) -> None:
        self.key = key
        self.database = database
        self.cursor = 0
        self.reads = 0
        self.beats = 0
        self.closed = False
        if database is not None:
            self.catch_up_check = self._check

    def _check(self) -> CatchUpCheck | None:
        assert self.database is not None
        return CatchUpCheck(self.database.lookup, self.key, self.cursor)

    async def catch_up(self) -> AsyncIterator[ServerSentEventMessage]:
        self.reads += 1
        top = self.database.newest.get(self.key, 0) if self.database else 0
        for message_id in range(self.cursor + 1, top + 1):
            yield ServerSentEventMessage(data=f"m{message_id}", event="message")
        self.cursor = max(self.cursor, top)

    async def on_event(self, envelope: Envelope) -> AsyncIterator[ServerSentEventMessage]:
        if envelope.visitor_id == "mine":
            yield ServerSentEventMessage(data="live", event="live")

    async def on_beat(self) -> bool:
        self.beats += 1
        return True

    async def on_close(self) -> None:
        self.closed = True


class Reader:
    """Reads one stream in a task, with the loop time of each item."""

    def __init__(self, live: LiveStream, source: Source) -> None:
        self.source = source
        self.items: list[tuple[float, ServerSentEventMessage]] = []
        self.task = asyncio.ensure_future(self._read(live))

    async def _read(self, live: LiveStream) -> None:
        loop = asyncio.get_running_loop()
        if not Driven.pumped:
            async for item in live.events(self.source):
                self.items.append((loop.time(), item))
            return
        self.gone = loop.create_future()

        async def receive() -> Any:
            await self.gone
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            if message["body"]:
                self.items.append((loop.time(), parse(message["body"])))

        await _Pump(live.pumped(self.source), send).run(receive)

    def comments(self, text: str) -> list[float]:
        return [at for at, item in self.items if item.comment == text]

    def data(self) -> list[str]:
        return [str(item.data) for _, item in self.items if item.event == "message"]

    async def close(self) -> None:
        if Driven.pumped and not self.task.done():
            self.gone.set_result(None)  # the client goes
            await asyncio.wait_for(self.task, 5)
            return
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def _live(plugin: ChannelsPlugin, channel: str, **timing: Any) -> LiveStream:
    options: dict[str, Any] = {"heartbeat_seconds": 30.0, "max_seconds": 60.0}
    options.update(timing)
    return LiveStream(plugin, [channel], audience="visitor", **options)


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_the_wheel_hands_over_each_tick_in_one_call_in_order() -> None:
    loop = asyncio.get_running_loop()
    handed: list[list[str]] = []
    wheel: Wheel[str] = Wheel(loop, handed.append, resolution=0.05)
    now = loop.time()
    for n in range(300):
        wheel.schedule(f"late{n}", now + 0.12)
    early = wheel.schedule("early", now + 0.02)
    gone = wheel.schedule("gone", now + 0.02)
    wheel.remove("gone", gone)
    assert early == gone
    assert len(wheel) == 301
    await asyncio.sleep(0.3)
    assert handed == [["early"], [f"late{n}" for n in range(300)]]
    assert len(wheel) == 0


async def test_every_stream_gets_its_keep_alive_on_time() -> None:
    async with _channels(MemoryChannelsBackend()) as plugin:
        started = asyncio.get_running_loop().time()
        readers = [
            Reader(_live(plugin, f"c{n}", heartbeat_seconds=0.3), Source(n, None))
            for n in range(200)
        ]

        async def three_beats_each() -> bool:
            return all(len(reader.comments("keep-alive")) >= 3 for reader in readers)

        await eventually(three_beats_each, within=3)
        for reader in readers:
            beats = reader.comments("keep-alive")[:3]
            # On the stream's own schedule (0.3, 0.6, 0.9 s from its start), rounded up to
            # the clock's tick (0.1 s): never early, a tick late at most (and what the loop
            # adds). Its start is just after it said "connected"; in a long test process a
            # full collection (~0.2 s) may come between the two while 200 streams open.
            (opened,) = reader.comments("connected")
            assert started + 0.3 - 0.01 <= beats[0] <= opened + 0.3 + 0.1 + 0.1 + 0.3, beats
            for earlier, later in itertools.pairwise(beats):
                assert 0.3 - 0.1 - 0.01 <= later - earlier <= 0.3 + 0.1 + 0.1, beats
            assert reader.source.beats >= 3
        assert stream_clock.waiting() == 200
        for reader in readers:
            await reader.close()
        await _settle()
        assert stream_clock.waiting() == 0
        assert all(reader.source.closed for reader in readers)


async def test_a_lost_publish_arrives_by_the_shared_catch_up_only_where_it_is_missing() -> None:
    database = Database()
    async with _channels(MemoryChannelsBackend()) as plugin:
        readers = [
            Reader(
                _live(plugin, f"c{n}", catch_up_again_after=0.2, catch_up_every=0.4),
                Source(n, database),
            )
            for n in range(100)
        ]

        async def asked(times: int) -> bool:
            keys = [key for keys in database.lookups for key in keys]
            return all(keys.count(n) >= times for n in range(100))

        # Every stream's first timed catch-up was looked up (at 0.2 s), not read: each read
        # once, on opening, and the lookups went by tick, not by stream.
        await eventually(lambda: asked(1), within=3)
        assert len(database.lookups) <= 3
        assert all(reader.source.reads == 1 for reader in readers)
        # A message committed whose publish was lost: only its stream reads it, once.
        database.newest[7] = 1
        lost = readers[7]

        async def arrived() -> bool:
            return lost.data() == ["m1"]

        await eventually(arrived, within=3)
        await eventually(lambda: asked(4), within=3)  # two more catch-ups of every stream
        assert lost.data() == ["m1"]  # not twice
        assert lost.source.reads == 2
        assert all(reader.source.reads == 1 for reader in readers if reader is not lost)
        for reader in readers:
            await reader.close()
        await _settle()
        assert stream_clock.waiting() == 0


async def test_a_failed_lookup_makes_its_streams_read() -> None:
    database = Database()
    database.fail = True
    async with _channels(MemoryChannelsBackend()) as plugin:
        readers = [
            Reader(_live(plugin, f"c{n}", catch_up_every=0.2), Source(n, database))
            for n in range(10)
        ]

        async def all_read_again() -> bool:
            return all(reader.source.reads >= 2 for reader in readers)

        await eventually(all_read_again, within=3)
        assert database.lookups
        for reader in readers:
            await reader.close()


async def test_a_source_without_a_check_reads_on_each_catch_up() -> None:
    async with _channels(MemoryChannelsBackend()) as plugin:
        reader = Reader(
            _live(plugin, "c", heartbeat_seconds=0.5, catch_up_every=0.2), Source(1, None)
        )

        async def beat() -> bool:
            return bool(reader.comments("keep-alive"))

        await eventually(beat, within=3)
        # By the keep-alive at 0.5 s: read on opening, then at 0.2 and 0.4 s.
        assert reader.source.reads >= 3
        await reader.close()


async def test_a_stream_ends_at_its_maximum_duration() -> None:
    async with _channels(MemoryChannelsBackend()) as plugin:
        reader = Reader(_live(plugin, "c", heartbeat_seconds=0.2, max_seconds=0.5), Source(1, None))
        await asyncio.wait_for(reader.task, 1.5)
        assert len(reader.comments("keep-alive")) == 2
        assert reader.source.closed
        assert stream_clock.waiting() == 0


async def test_a_stream_busy_with_live_events_still_beats_and_catches_up() -> None:
    database = Database()
    async with _channels(MemoryChannelsBackend()) as plugin:
        source = Source(1, database)
        reader = Reader(_live(plugin, "busy", heartbeat_seconds=0.2, catch_up_every=0.2), source)
        await _settle()
        # Its subscriber never empty for a second: the stream is rarely found waiting.
        (subscriber,) = draining._streams
        loop = asyncio.get_running_loop()
        until = loop.time() + 1.0
        database.newest[1] = 3

        def flood() -> None:
            for _ in range(3):
                subscriber.put_nowait(b'{"event": "typing", "data": {}, "visitor_id": "x"}')
            if loop.time() < until:
                loop.call_soon(flood)

        flood()

        async def beats_and_caught_up() -> bool:
            return len(reader.comments("keep-alive")) >= 4 and reader.data() == ["m1", "m2", "m3"]

        await eventually(beats_and_caught_up, within=3)
        await reader.close()
