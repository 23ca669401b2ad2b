"""Server-Sent Events without a task group per open stream.

Litestar's streaming response runs each stream in an anyio task group (a cancel scope, a
task for the body, the handler's task listening for the disconnect). Thousands of open
streams pay for that machinery each; here a stream costs one small listener task: the body
is sent from the request's own task, and the listener cancels that task when the client
goes (the stream's ``finally`` then frees its subscription). Everything else — headers,
encoding of the events, OpenAPI — is Litestar's :class:`ServerSentEvent`, unchanged.

A :class:`~messenger.realtime.stream.Pumped` stream (the widget's) is not even sent from the
request's task: that task waits once for the stream's end, and each burst of the stream's
work (a heartbeat, a live event, a catch-up) runs in a short task of its own that ends when
the stream is idle again (:class:`_Pump`; why, in :mod:`messenger.realtime.stream`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterable, AsyncIterator, Coroutine
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import Empty, HTTPResponseBodyEvent, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from messenger.realtime.stream import Idle, Pumped


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _forget_parsed(scope: Scope) -> None:
    """Drop what Litestar parsed from the request and cached in its scope (the headers as a
    multi-dict, the query, the URL, cookies): the handler has run, and the scope lives as
    long as the stream (≈ 2 KiB a stream). Whatever asks again parses again."""
    state = ScopeState.from_scope(scope)
    state.headers = state.parsed_query = state.cookies = Empty
    state.url = state.base_url = state.accept = Empty


class _LeanStreamingResponse(ASGIStreamingResponse):
    __slots__ = ()  # the same layout as its base: instances of it are re-classed to this

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.start_response(send=send)
        # Sent: neither the response's headers nor the request's parsed ones are needed
        # again while the stream stays open.
        self.headers = MutableScopeHeaders()
        _forget_parsed(scope)
        if self.is_head_response:
            event: HTTPResponseBodyEvent = {
                "type": "http.response.body",
                "body": b"",
                "more_body": False,
            }
            await send(event)
        else:
            await self.send_body(send=send, receive=receive)
        await self.after_response()

    async def send_body(self, send: Send, receive: Receive) -> None:
        if isinstance(self.iterator, Pumped):
            await _Pump(self.iterator, send).run(receive)
            return
        task = asyncio.current_task()
        assert task is not None
        sending = [True]

        def client_gone(listener: asyncio.Future[None]) -> None:
            if sending[0] and not listener.cancelled() and listener.exception() is None:
                task.cancel()

        listener = asyncio.ensure_future(_until_disconnect(receive))
        listener.add_done_callback(client_gone)
        try:
            await self._stream(send)
        except asyncio.CancelledError:
            if not listener.done() or listener.cancelled():
                raise  # cancelled from elsewhere (the server shutting down): not ours
            task.uncancel()  # the client went: the stream ended, nothing failed
        finally:
            sending[0] = False
            listener.cancel()


class _Pump:
    """Sends a :class:`Pumped` stream. ``run`` (the request's task) waits for its end once;
    each burst of the stream's work runs in a task of its own, started by the stream's
    subscriber (``wake``) and ended when the stream yields :data:`IDLE`. So an idle stream
    has no task, future or coroutine waiting for its next item, only its suspended
    generator: nothing is allocated per wait that would outlive the young collections.

    The client going (``http.disconnect``) closes the stream: the running burst is
    cancelled (the stream's ``finally`` frees its subscription, as when the request's task
    was cancelled), or the idle generator is closed (``aclose``, the same ``finally``)."""

    __slots__ = ("_context", "_events", "_finished", "_loop", "_runner", "_send", "closing")

    def __init__(self, pumped: Pumped, send: Send) -> None:
        self._loop = asyncio.get_running_loop()
        # The bursts run in the request's context (its context variables), one after the
        # other, as they did in the request's own task.
        self._context = contextvars.copy_context()
        self._events = pumped.events
        self._send = send
        self._finished: asyncio.Future[None] = self._loop.create_future()
        self._runner: asyncio.Task[None] | None = None
        self.closing = False
        pumped.wake = self.wake  # one bound method for the stream's life, not one per wait

    async def run(self, receive: Receive) -> None:
        listener = asyncio.ensure_future(_until_disconnect(receive))
        listener.add_done_callback(self._gone)
        self.wake()
        try:
            await asyncio.shield(self._finished)
        except asyncio.CancelledError:
            # Cancelled from elsewhere (the server shutting down): the stream is closed
            # (its clean-up runs) before the cancellation goes on.
            self.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(self._finished)
            raise
        finally:
            listener.cancel()

    def wake(self) -> None:
        """An item was put in the stream's subscriber: resume the stream (unless a burst is
        running: it reads the item itself before it idles)."""
        if self.closing or self._finished.done():
            return
        if self._runner is not None and not self._runner.done():
            return
        self._start(self._burst())

    def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        runner = self._runner
        if runner is not None and not runner.done():
            runner.cancel()
        else:
            self._start(self._events.aclose())

    def _gone(self, listener: asyncio.Future[None]) -> None:
        if not listener.cancelled() and listener.exception() is None:
            self.close()

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        runner = self._runner = self._loop.create_task(work, context=self._context)
        runner.add_done_callback(self._ran)

    async def _burst(self) -> None:
        events, send = self._events, self._send
        while True:
            try:
                item = await anext(events)
            except StopAsyncIteration:  # the stream ended (its maximum, draining...)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                self._end(None)
                return
            if isinstance(item, Idle):
                return  # until ``wake``
            await send({"type": "http.response.body", "body": item.encode(), "more_body": True})

    def _ran(self, runner: asyncio.Task[None]) -> None:
        current = self._runner is runner
        if current:
            self._runner = None  # a finished task is not kept until the next burst
        if runner.cancelled():
            # Closed while running: the client went. A burst cancelled inside the stream
            # ran its ``finally`` already; one cancelled while sending left the generator
            # suspended at its ``yield``, and only its ``aclose`` runs that ``finally`` now
            # (its subscription, the open-streams gauge) rather than whenever the collector
            # finds it. On a finished generator ``aclose`` does nothing; ``_ran`` of it ends.
            if current:
                self._start(self._events.aclose())
            else:
                self._end(None)
            return
        error = runner.exception()
        if error is not None:
            self._end(error)
        elif current and self.closing:
            # The close (``aclose``) has run; not a burst that idled just before the
            # client went (the close started after it is still running then).
            self._end(None)

    def _end(self, error: BaseException | None) -> None:
        if self._finished.done():
            return
        if error is None:
            self._finished.set_result(None)
        else:
            self._finished.set_exception(error)


async def _encoded(events: AsyncIterable[ServerSentEventMessage]) -> AsyncIterator[bytes]:
    async for event in events:
        yield event.encode()


class LeanServerSentEvent(ServerSentEvent):
    """:class:`ServerSentEvent` of :class:`ServerSentEventMessage` items, sent by
    :class:`_LeanStreamingResponse`. The events are encoded by a plain generator: Litestar's
    iterator first asks a worker thread for its (here empty) leading events and then
    streams from inside the ``except`` block of that, keeping the exception, its traceback
    and a context copy alive for as long as the stream is open."""

    def __init__(self, content: AsyncIterable[ServerSentEventMessage], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        # A Pumped stream is sent by _Pump (Litestar's wrapper, made by the base class, is
        # never iterated).
        iterator: Any = content if isinstance(content, Pumped) else _encoded(content)
        self.iterator = iterator

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        response = super().to_asgi_response(*args, **kwargs)
        if type(response) is ASGIStreamingResponse:
            response.__class__ = _LeanStreamingResponse
        return response
