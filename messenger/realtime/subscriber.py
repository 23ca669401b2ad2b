from __future__ import annotations

import asyncio

from litestar.channels import Subscriber


class StreamSubscriber(Subscriber):
    """A subscriber whose next event can be awaited with a timeout (for SSE heartbeats).

    ``Subscriber.iter_events`` cannot be interrupted by a timer without finishing the
    generator, so the stream reads the subscriber's queue directly.
    """

    async def next_event(self, wait_seconds: float) -> bytes | None:
        """The next event, or None when ``wait_seconds`` pass with none."""
        try:
            item = await asyncio.wait_for(self._queue.get(), wait_seconds)
        except TimeoutError:
            return None
        self._queue.task_done()
        return item
