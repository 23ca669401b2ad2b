"""Server-Sent Events without a task group per open stream.

Litestar's streaming response runs each stream in an anyio task group (a cancel scope, a
task for the body, the handler's task listening for the disconnect). Thousands of open
streams pay for that machinery each; here a stream costs one small listener task: the body
is sent from the request's own task, and the listener cancels that task when the client
goes (the stream's ``finally`` then frees its subscription). Everything else — headers,
encoding of the events, OpenAPI — is Litestar's :class:`ServerSentEvent`, unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import Empty, HTTPResponseBodyEvent, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState


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
        self.iterator = _encoded(content)

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        response = super().to_asgi_response(*args, **kwargs)
        if type(response) is ASGIStreamingResponse:
            response.__class__ = _LeanStreamingResponse
        return response
