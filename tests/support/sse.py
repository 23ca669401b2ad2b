"""The one Server-Sent Events reader of the suite, for the widget stream and the staff stream,
in-process or on a live server.

Built on ``httpx-sse``: :func:`httpx_sse.aconnect_sse` opens the stream (``Accept:
text/event-stream``) and its decoder parses the fields. Comments (``: connected``, ``:
keep-alive``) are part of this protocol's contract, and ``httpx-sse`` drops them, so the
reader keeps them next to the event they came with. The stream is read in the background
into :attr:`SSEStream.items`; a test waits on a condition of those items (never sleeps), and
a wait fails at once when the server ended the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import EventSource, aconnect_sse
from httpx_sse._decoders import SSEDecoder

WIDGET_STREAM = "/api/widget/stream"
STAFF_STREAM = "/dashboard/stream"


@dataclass
class SSEItem:
    """One block of the stream: an event (``event`` set when the block named one), and/or
    comments."""

    event: str | None = None
    id: str | None = None
    data: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)
    at: float = 0.0  # event-loop time when the block was complete

    def json(self) -> Any:
        return json.loads(self.data or "null")


class SSEStream:
    """An open SSE response, read in the background; ``async with`` opens and closes it.

    ``response`` is there at once (a refused stream has its status and body, and nothing
    is read); ``ended`` is set when the server closes the stream, at ``ended_at``.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        path: str = WIDGET_STREAM,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self._client = client
        self._path = path
        self._headers = dict(headers or {})
        self._params = params or {}
        self.items: list[SSEItem] = []
        self.response: httpx.Response | None = None
        self.ended = asyncio.Event()
        self.ended_at: float | None = None
        self.error: BaseException | None = None
        self._cm: Any = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SSEStream:
        self._cm = aconnect_sse(
            self._client,
            "GET",
            self._path,
            headers=dict(self._headers),
            params=self._params,
            timeout=httpx.Timeout(10.0, read=None),
        )
        source: EventSource = await asyncio.wait_for(self._cm.__aenter__(), 10)
        self.response = source.response
        if self.response.status_code == 200:
            self._task = asyncio.create_task(self._read(self.response))
        else:
            await self.response.aread()
            self.ended.set()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._cm is not None:
            cm, self._cm = self._cm, None
            with contextlib.suppress(httpx.HTTPError, OSError):
                await asyncio.wait_for(cm.__aexit__(None, None, None), 10)

    async def _read(self, response: httpx.Response) -> None:
        decoder = SSEDecoder()
        comments: list[str] = []
        # The fields this block really has: httpx-sse defaults the event name to "message"
        # and carries the last id over to later blocks (as a browser does); a test wants to
        # see what the server wrote on each block.
        fields: set[str] = set()
        try:
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    comments.append(line[1:].removeprefix(" "))
                    continue
                fields.add(line.partition(":")[0])
                sse = decoder.decode(line)
                if line:
                    continue
                if sse is not None or comments:
                    item = SSEItem(comments=comments, at=asyncio.get_running_loop().time())
                    if sse is not None:
                        item.event = sse.event if "event" in fields else None
                        item.id = sse.id if "id" in fields else None
                        item.data = sse.data if "data" in fields else None
                        item.retry = sse.retry
                    self.items.append(item)
                comments, fields = [], set()
        except Exception as exc:  # the server went away: an end too, visible to a waiting test
            self.error = exc
        finally:
            self.ended_at = asyncio.get_running_loop().time()
            self.ended.set()

    # --- views -----------------------------------------------------------------------------

    def events(self, name: str) -> list[SSEItem]:
        return [item for item in self.items if item.event == name]

    def message_ids(self) -> list[int]:
        return [int(item.id) for item in self.events("message") if item.id is not None]

    def messages(self) -> list[Any]:
        """The decoded data of every ``message`` event."""
        return [item.json() for item in self.events("message")]

    def comments(self) -> list[str]:
        return [c for item in self.items for c in item.comments]

    def beats(self) -> int:
        return self.comments().count("keep-alive")

    # --- waiting ---------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[SSEStream], Any], within: float = 8.0) -> Any:
        """Until ``predicate(stream)`` holds; fails after ``within`` s or when the stream
        ended without it."""
        deadline = asyncio.get_running_loop().time() + within
        while not (result := predicate(self)):
            if self.ended.is_set():
                msg = f"the stream ended ({self.error!r}); items: {self.items!r}"
                raise AssertionError(msg)
            if asyncio.get_running_loop().time() > deadline:
                msg = f"stream condition not met within {within}s; items: {self.items!r}"
                raise AssertionError(msg)
            await asyncio.sleep(0.02)
        return result

    async def connected(self) -> SSEStream:
        await self.wait_for(lambda s: "connected" in s.comments())
        return self

    async def past_catch_up(self) -> SSEStream:
        """Until the stream did its second database read (``CATCH_UP_AGAIN_AFTER_SECONDS``
        after subscribing): anything that read would add (a duplicate) is in ``items`` now.

        The engine (``messenger/realtime/stream.py``) schedules a beat at least one heartbeat
        after the previous one and reads again before it yields a beat that is due at or after
        that time; with ``MESSENGER_STREAM_HEARTBEAT_SECONDS=1`` and the 2 s catch-up, the
        second keep-alive is emitted after the second read.
        """
        await self.wait_for(lambda s: s.beats() >= 2, within=10)
        return self


def staff_stream(
    client: httpx.AsyncClient,
    params: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> SSEStream:
    """``GET /dashboard/stream`` of a signed-in staff client."""
    return SSEStream(client, STAFF_STREAM, params=params, headers=headers)
