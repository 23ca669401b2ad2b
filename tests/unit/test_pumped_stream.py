"""The widget's pumped stream (``LiveStream.pumped``, sent by ``messenger.realtime.sse._Pump``):
between two items an idle stream keeps no object per wait (no future, task or coroutine that
would outlive the young garbage collections and be promoted to the old generation, the
cause of a full collection every 40 s with 5,000 streams open), and it still ends, cleans
up and fails as the stream in a waiting task does."""

from __future__ import annotations

import asyncio
import gc
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
from tests.support.waiting import eventually

KEEP_ALIVE = b": keep-alive"


@pytest.fixture(autouse=True)
def fresh_draining(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(draining, "_draining", False)
    monkeypatch.setattr(draining, "_streams", set())


class Source:
    def __init__(self) -> None:
        self.beats = 0
        self.closed = False
        self.hold: asyncio.Event | None = None
        self.held = False
        self.fail = False

    async def catch_up(self) -> AsyncIterator[ServerSentEventMessage]:
        yield ServerSentEventMessage(data="caught up")

    async def on_event(self, envelope: Envelope) -> AsyncIterator[ServerSentEventMessage]:
        if self.fail:
            raise RuntimeError("the source failed")
        yield ServerSentEventMessage(data=envelope.data.get("n", envelope.event), event="live")

    async def on_beat(self) -> bool:
        self.beats += 1
        if self.hold is not None:
            self.held = True
            await self.hold.wait()
        return True

    async def on_close(self) -> None:
        self.closed = True


class Client:
    """The ASGI side of one pumped stream: what it was sent, and its disconnect."""

    def __init__(self, live: LiveStream, source: Source) -> None:
        self.source = source
        self.keep_alives = 0
        self.bodies: list[bytes] = []
        self.more_body = True
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.stuck: asyncio.Event | None = None
        self.sending = asyncio.Event()
        self.task = asyncio.ensure_future(_Pump(live.pumped(source), self.send).run(self.receive))

    async def receive(self) -> Any:
        await self.gone
        return {"type": "http.disconnect"}

    async def send(self, message: Any) -> None:
        if self.stuck is not None:  # a client that stopped reading: the send never returns
            self.sending.set()
            await self.stuck.wait()
        self.more_body = message["more_body"]
        if message["body"].startswith(KEEP_ALIVE):
            self.keep_alives += 1  # counted, not kept: the test counts new objects
        elif message["body"]:
            self.bodies.append(message["body"])

    async def leave(self) -> None:
        self.gone.set_result(None)
        await asyncio.wait_for(self.task, 5)


class Waiting:
    """The same stream read in a task that waits (``LiveStream.events``)."""

    def __init__(self, live: LiveStream, source: Source) -> None:
        self.keep_alives = 0
        self.task = asyncio.ensure_future(self._read(live, source))

    async def _read(self, live: LiveStream, source: Source) -> None:
        async for item in live.events(source):
            if item.comment == "keep-alive":
                self.keep_alives += 1

    async def leave(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def _live(plugin: ChannelsPlugin, channel: str, **timing: Any) -> LiveStream:
    options: dict[str, Any] = {"heartbeat_seconds": 30.0, "max_seconds": 60.0}
    options.update(timing)
    return LiveStream(plugin, [channel], audience="visitor", **options)


async def _new_objects_over_beats(readers: list[Any], beats: int) -> int:
    """Tracked objects alive after ``beats`` more keep-alives of every stream that were not
    alive before (the old ones are held meanwhile, so no new one can take an old id)."""
    await eventually(_all_beat(readers, 1), within=5)
    gc.collect()
    before = gc.get_objects()
    seen = {id(o) for o in before}
    start = [reader.keep_alives for reader in readers]
    await eventually(_all_beat(readers, beats, start), within=5)
    gc.collect()
    after = gc.get_objects()
    new = [o for o in after if id(o) not in seen and o is not before and o is not seen]
    count = len(new)
    del before, after, new
    return count


def _all_beat(readers: list[Any], beats: int, start: list[int] | None = None) -> Any:
    base = start or [0] * len(readers)

    async def check() -> bool:
        return all(r.keep_alives - b >= beats for r, b in zip(readers, base, strict=True))

    return check


async def test_an_idle_pumped_stream_keeps_no_object_per_wait() -> None:
    streams = 100
    async with _channels(MemoryChannelsBackend()) as plugin:
        waiting = [
            Waiting(_live(plugin, f"w{n}", heartbeat_seconds=0.1), Source()) for n in range(streams)
        ]
        per_wait_waiting = await _new_objects_over_beats(waiting, 4)
        for reader in waiting:
            await reader.leave()
        pumped = [
            Client(_live(plugin, f"p{n}", heartbeat_seconds=0.1), Source()) for n in range(streams)
        ]
        per_wait_pumped = await _new_objects_over_beats(pumped, 4)
        for client in pumped:
            await client.leave()
    # Waiting in a task, every stream holds new objects after each wait (its future, the
    # task's wake-up, the coroutines); pumped, next to none (the clock's tick dicts).
    assert per_wait_waiting >= 3 * streams, per_wait_waiting
    assert per_wait_pumped < streams // 2, per_wait_pumped


def _nothing_left(plugin: ChannelsPlugin) -> bool:
    return (
        all(not subscribers for subscribers in plugin._channels.values())
        and draining._streams == set()
        and stream_clock.waiting() == 0
    )


async def _connected(client: Client) -> None:
    async def caught_up() -> bool:
        return len(client.bodies) >= 2

    await eventually(caught_up, within=3)
    await asyncio.sleep(0.05)  # idle: waiting for its next item


async def test_the_client_going_while_the_stream_is_idle_frees_it() -> None:
    async with _channels(MemoryChannelsBackend()) as plugin:
        client = Client(_live(plugin, "c"), Source())
        await _connected(client)
        assert b": connected" in client.bodies[0]
        assert stream_clock.waiting() == 1
        await client.leave()
        assert client.source.closed
        assert _nothing_left(plugin)


async def test_the_client_going_during_a_burst_cancels_it_and_frees_the_stream() -> None:
    async with _channels(MemoryChannelsBackend()) as plugin:
        source = Source()
        source.hold = asyncio.Event()  # the beat's lease renewal never answers
        client = Client(_live(plugin, "c", heartbeat_seconds=0.1), source)

        async def held() -> bool:
            return source.held

        await eventually(held, within=3)
        await client.leave()
        assert source.closed
        assert client.keep_alives == 0
        assert _nothing_left(plugin)


async def test_the_client_going_while_a_message_is_being_sent_frees_the_stream() -> None:
    """Cancelled in the response's ``send`` (a slow client), not inside the stream: the
    stream's generator is suspended at its ``yield`` and is closed at once all the same."""
    async with _channels(MemoryChannelsBackend()) as plugin:
        client = Client(_live(plugin, "c", heartbeat_seconds=0.1), Source())
        await _connected(client)
        client.stuck = asyncio.Event()  # the client reads nothing more
        await asyncio.wait_for(client.sending.wait(), 3)
        await client.leave()
        assert client.source.closed
        assert _nothing_left(plugin)


async def test_live_events_arrive_in_order_between_beats() -> None:
    async with _channels(MemoryChannelsBackend()) as plugin:
        client = Client(_live(plugin, "c", heartbeat_seconds=0.1), Source())
        await _connected(client)
        (subscriber,) = draining._streams
        for name in ("one", "two", "three"):
            subscriber.put_nowait(f'{{"event": "typing", "data": {{"n": "{name}"}}}}'.encode())

        async def three() -> bool:
            return len(client.bodies) == 5 and client.keep_alives >= 2

        await eventually(three, within=3)
        assert [body.split(b"data: ")[1].split(b"\r\n")[0] for body in client.bodies[2:]] == [
            b"one",
            b"two",
            b"three",
        ]
        await client.leave()


async def test_a_pumped_stream_ends_at_its_maximum_duration() -> None:
    async with _channels(MemoryChannelsBackend()) as plugin:
        client = Client(_live(plugin, "c", heartbeat_seconds=0.2, max_seconds=0.5), Source())
        await asyncio.wait_for(client.task, 2)
        assert client.keep_alives == 2
        assert client.more_body is False  # the response was ended, not cut
        assert client.source.closed
        assert _nothing_left(plugin)


async def test_a_draining_pumped_stream_says_reconnect_and_ends() -> None:
    async with _channels(MemoryChannelsBackend()) as plugin:
        client = Client(_live(plugin, "c"), Source())
        await _connected(client)
        draining.begin()
        await asyncio.wait_for(client.task, 2)
        assert client.bodies[-1].startswith(b": reconnect")
        assert b"retry: 500" in client.bodies[-1]
        assert client.more_body is False
        assert _nothing_left(plugin)


async def test_a_failing_source_fails_the_response_after_its_clean_up() -> None:
    async with _channels(MemoryChannelsBackend()) as plugin:
        source = Source()
        client = Client(_live(plugin, "c"), source)
        await _connected(client)
        source.fail = True
        (subscriber,) = draining._streams
        subscriber.put_nowait(b'{"event": "typing", "data": {}}')
        with pytest.raises(RuntimeError, match="the source failed"):
            await asyncio.wait_for(client.task, 2)
        assert source.closed
        assert _nothing_left(plugin)


async def test_a_cancelled_response_cleans_the_stream_up_first() -> None:
    """The server shutting down cancels the request's task: the stream is closed (its
    subscription freed) before the cancellation goes on."""
    async with _channels(MemoryChannelsBackend()) as plugin:
        client = Client(_live(plugin, "c"), Source())
        await _connected(client)
        client.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await client.task
        assert client.source.closed
        assert _nothing_left(plugin)


async def test_a_pumped_stream_is_also_a_plain_async_iterable() -> None:
    async with _channels(MemoryChannelsBackend()) as plugin:
        source = Source()
        items = aiter(_live(plugin, "c").pumped(source))
        assert (await anext(items)).comment == "connected"
        assert (await anext(items)).data == "caught up"
        waiting = asyncio.ensure_future(anext(items))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        (subscriber,) = draining._streams
        subscriber.put_nowait(b'{"event": "typing", "data": {}}')
        assert (await asyncio.wait_for(waiting, 1)).data == "typing"
        await items.aclose()  # type: ignore[attr-defined]
        assert source.closed
        assert _nothing_left(plugin)
