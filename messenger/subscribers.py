"""The live fan-out's subscriber: one per open stream, as small as it can be.

Why our own: Litestar's :class:`~litestar.channels.Subscriber` holds an ``asyncio.Queue``
(three deques, an ``Event`` with its own deque, a loop reference; ≈ 3.7 KiB) for every
subscriber, and a process with thousands of open streams pays that for each of them
(docs/performance.md, "Open streams"). :class:`LeanSubscriber` keeps a list of the events not
yet read and a future only while its stream waits for one; nothing else. It is the
``subscriber_class`` of the one :class:`~litestar.channels.ChannelsPlugin` of the process,
so the plugin's single reader task stays the one place that fans events out (it calls
:meth:`LeanSubscriber.put_nowait`), and the backend's reconnects
(:class:`messenger.backends.ResilientRedisPubSub`) are unchanged.

Not supported: ``run_in_background`` (a sending task per subscriber, for Litestar's
generated WebSocket handlers: Messenger has none).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

from litestar.channels import Subscriber
from litestar.channels.subscriber import BacklogStrategy, EventCallback

if TYPE_CHECKING:
    from litestar.channels import ChannelsPlugin


class LeanSubscriber(Subscriber):
    """Events of the subscribed channels, in order; at most ``max_backlog`` unread (past
    it ``dropleft`` drops the oldest, ``backoff`` refuses the new one). ``None`` ends the
    iteration (the plugin puts it on unsubscribe). One reader at a time (its stream)."""

    # Subscriber has no __slots__, so instances still have a (never filled) __dict__; the
    # slots keep our own attributes out of it.
    __slots__ = ("_drop_oldest", "_items", "_max_backlog", "_notify", "_waiter")

    def __init__(
        self,
        plugin: ChannelsPlugin | None = None,
        max_backlog: int | None = None,
        backlog_strategy: BacklogStrategy = "backoff",
    ) -> None:
        # Subscriber.__init__ is not called on purpose: it builds the queue replaced here.
        self._items: list[bytes | None] = []
        self._waiter: asyncio.Future[None] | None = None
        self._notify: Callable[[], object] | None = None
        self._max_backlog = max_backlog or 0
        self._drop_oldest = backlog_strategy == "dropleft"

    def put_nowait(self, item: bytes | None) -> bool:
        items = self._items
        if self._max_backlog and len(items) >= self._max_backlog:
            if not self._drop_oldest:
                return False
            del items[0]
        items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        notify = self._notify
        if notify is not None:
            self._notify = None
            notify()
        return True

    def notify(self, callback: Callable[[], object] | None) -> None:
        """Call ``callback`` (once) at the next item put, instead of a waiter: a stream that
        is not waiting in a task (:class:`messenger.realtime.stream.Pumped`) keeps no future
        while it is idle. None: forget it."""
        self._notify = callback

    async def put(self, item: bytes | None) -> None:
        # Never waits: a full ``backoff`` subscriber loses the item, as put_nowait does
        # (only the plugin's unsubscribe calls this, with the ``None`` that ends the stream).
        self.put_nowait(item)

    @property
    def qsize(self) -> int:
        return len(self._items)

    async def get(self) -> bytes | None:
        """The next event, waiting for one if there is none (``None``: unsubscribed)."""
        while not self._items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    async def iter_events(self) -> AsyncGenerator[bytes, None]:
        while (item := await self.get()) is not None:
            yield item

    @property
    def is_running(self) -> bool:
        return False

    async def stop(self, join: bool = False) -> None:
        return None

    def run_in_background(self, on_event: EventCallback, join: bool = True) -> Any:
        raise NotImplementedError("LeanSubscriber has no background task (see module doc)")
