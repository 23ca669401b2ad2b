"""The live fan-out's own subscriber (``messenger/subscribers.py``) behind the process's one
Channels plugin, and the stream engine's use of it: order, a full or slow subscriber, the
end of a subscription, draining, and nothing left registered when a stream goes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.response import ServerSentEventMessage

from messenger.backends import STREAM_BACKLOG, _channels
from messenger.realtime import draining
from messenger.realtime.events import Envelope
from messenger.realtime.stream import LiveStream
from messenger.subscribers import LeanSubscriber


@pytest.fixture
def fresh_draining(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(draining, "_draining", False)
    monkeypatch.setattr(draining, "_streams", set())


async def test_events_come_out_in_order_and_a_reader_waits_for_the_next() -> None:
    subscriber = LeanSubscriber(None, 10, "dropleft")
    subscriber.put_nowait(b"1")
    subscriber.put_nowait(b"2")
    assert subscriber.qsize == 2
    assert [await subscriber.get(), await subscriber.get()] == [b"1", b"2"]
    waiting = asyncio.ensure_future(subscriber.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    subscriber.put_nowait(b"3")
    assert await asyncio.wait_for(waiting, 1) == b"3"
    assert subscriber._waiter is None


async def test_a_full_subscriber_drops_its_oldest_or_refuses_the_newest() -> None:
    dropping = LeanSubscriber(None, 3, "dropleft")
    assert all(dropping.put_nowait(str(n).encode()) for n in range(5))
    assert [await dropping.get() for _ in range(3)] == [b"2", b"3", b"4"]
    refusing = LeanSubscriber(None, 2, "backoff")
    assert [refusing.put_nowait(b"a"), refusing.put_nowait(b"b"), refusing.put_nowait(b"c")] == [
        True,
        True,
        False,
    ]
    assert [await refusing.get(), await refusing.get()] == [b"a", b"b"]


async def test_a_cancelled_reader_leaves_no_waiter_behind() -> None:
    subscriber = LeanSubscriber(None, 10, "dropleft")
    waiting = asyncio.ensure_future(subscriber.get())
    await asyncio.sleep(0)
    assert subscriber._waiter is not None
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert subscriber._waiter is None
    assert subscriber.put_nowait(b"later")  # no error from a cancelled future
    assert await subscriber.get() == b"later"


async def test_the_plugin_fans_out_to_lean_subscribers_and_a_slow_one_holds_no_one_up() -> None:
    async with _channels(MemoryChannelsBackend()) as plugin:
        slow = await plugin.subscribe(["c"])
        quick = await plugin.subscribe(["c", "d"])
        assert isinstance(slow, LeanSubscriber)
        assert isinstance(quick, LeanSubscriber)
        received: list[bytes] = []

        async def read() -> None:
            async for item in quick.iter_events():
                received.append(item)

        async def caught_up(count: int) -> None:
            for _ in range(200):
                if len(received) == count:
                    return
                await asyncio.sleep(0.01)

        reader = asyncio.ensure_future(read())
        total = STREAM_BACKLOG + 100
        for n in range(total):
            await plugin.wait_published(str(n).encode(), ["c"])
            if n % 100 == 99:  # the quick one keeps up (each burst is within its backlog)
                await caught_up(n + 1)
        await plugin.wait_published(b"d only", ["d"])
        await caught_up(total + 1)
        assert received == [str(n).encode() for n in range(total)] + [b"d only"]
        # The one that never read keeps the newest STREAM_BACKLOG events, not more.
        assert slow.qsize == STREAM_BACKLOG
        assert await slow.get() == b"100"
        await plugin.unsubscribe(quick)
        await asyncio.wait_for(reader, 1)  # unsubscribing ends its iteration
        await plugin.unsubscribe(slow)
        assert all(not subscribers for subscribers in plugin._channels.values())


async def test_unsubscribing_ends_the_subscription_with_none() -> None:
    async with _channels(MemoryChannelsBackend()) as plugin:
        subscriber = await plugin.subscribe(["c"])
        assert isinstance(subscriber, LeanSubscriber)
        waiting = asyncio.ensure_future(subscriber.get())
        await asyncio.sleep(0)
        await plugin.unsubscribe(subscriber)
        assert await asyncio.wait_for(waiting, 1) is None


async def test_draining_wakes_each_watched_stream_once_and_new_ones_at_once(
    fresh_draining: None,
) -> None:
    watched, gone = LeanSubscriber(), LeanSubscriber()
    draining.watch(watched)
    draining.watch(gone)
    draining.unwatch(gone)
    draining.begin()
    assert await watched.get() is draining.DRAIN
    assert gone.qsize == 0
    late = LeanSubscriber()
    draining.watch(late)
    assert await late.get() is draining.DRAIN


class _Source:
    def __init__(self) -> None:
        self.closed = False

    async def catch_up(self) -> AsyncIterator[ServerSentEventMessage]:
        yield ServerSentEventMessage(data="caught up")

    async def on_event(self, envelope: Envelope) -> AsyncIterator[ServerSentEventMessage]:
        yield ServerSentEventMessage(data=envelope.event)

    async def on_beat(self) -> bool:
        return True

    async def on_close(self) -> None:
        self.closed = True


async def _open(plugin: ChannelsPlugin, source: _Source) -> AsyncIterator[ServerSentEventMessage]:
    live = LiveStream(plugin, ["c"], audience="visitor", heartbeat_seconds=30, max_seconds=60)
    events = live.events(source)
    assert (await anext(events)).comment == "connected"
    assert (await anext(events)).data == "caught up"
    return events


async def test_a_stream_that_goes_leaves_nothing_registered(fresh_draining: None) -> None:
    async with _channels(MemoryChannelsBackend()) as plugin:
        source = _Source()
        events = await _open(plugin, source)
        waiting = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.05)
        assert sum(len(s) for s in plugin._channels.values()) == 1
        assert len(draining._streams) == 1
        # The client goes: the stream is cancelled while it waits for its subscriber.
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await events.aclose()
        assert all(not subscribers for subscribers in plugin._channels.values())
        assert draining._streams == set()
        assert source.closed


async def test_a_draining_stream_says_reconnect_and_ends(fresh_draining: None) -> None:
    async with _channels(MemoryChannelsBackend()) as plugin:
        source = _Source()
        events = await _open(plugin, source)
        waiting = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.05)
        draining.begin()
        last = await asyncio.wait_for(waiting, 1)
        assert (last.comment, last.retry) == ("reconnect", 500)
        with pytest.raises(StopAsyncIteration):
            await anext(events)
        assert all(not subscribers for subscribers in plugin._channels.values())
        assert draining._streams == set()
