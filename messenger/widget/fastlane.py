"""The widget's two hottest calls — send (``POST /api/widget/messages``) and poll (``GET``) —
served by a plain ASGI handler in front of Litestar's routing, parameters and middleware.

Why: on these calls Litestar's routing, parameter parsing, response building and our three
middlewares cost as much as the call's own work (docs/performance.md, "Where a poll's time
goes now"). What a call *means* is unchanged: the same :class:`SessionCalls` the
controllers call. What the full stack guarantees on those calls holds here, through the
same code: the request id, access line and request metrics (:class:`RequestRecord`), the
hardening headers (:func:`headers_for`), the CORS edge (:meth:`WidgetEdge.cors_headers`),
the error bodies (the app's own exception handlers, looked up by the exception's MRO).

What the fast lane does not fully understand before any side effect — a switched-off
messenger, a query string other than one plain ``after``, a content type other than
``application/json``, a body without a length or over the limit, a body that is not a valid
:class:`~messenger.widget.schemas.SendRequest`, any other method or path — goes to the full
stack untouched, the body already read replayed to it, so those answers stay Litestar's.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import (
    ASGIApp,
    ExceptionHandlersMap,
    HTTPScope,
    Message,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from messenger.logs import RequestRecord
from messenger.metrics import FAST_LANE, child
from messenger.security_headers import headers_for
from messenger.widget import schemas
from messenger.widget.calls import SessionCalls
from messenger.widget.middleware import WidgetEdge

#: The one route served here (the controllers' ``WidgetController.send`` / ``.poll``).
ROUTE = "/api/widget/messages"
#: The controllers' ``request_max_body_size``: a body over it goes to Litestar (its 413).
BODY_LIMIT = 64 * 1024
MAX_AFTER = 2**62
_JSON = b"application/json"
_decode_send = msgspec.json.Decoder(schemas.SendRequest).decode
#: Litestar encodes these plain structs with msgspec's JSON encoder: the same bytes.
_encode = msgspec.json.Encoder().encode

BeforeRequest = Callable[[Request[Any, Any, Any]], Awaitable[Any]]


def _after(query: bytes) -> int | None:
    """``after`` from a query string that is nothing but ``after=<decimal>`` (or empty: 0);
    None for anything else (Litestar then answers it, its 400 included)."""
    if not query:
        return 0
    name, _, value = query.partition(b"=")
    if name != b"after" or not value.isdigit() or len(value) > 19:
        return None
    if len(value) > 1 and value[0] == 48:  # a leading zero: Litestar's to judge
        return None
    after = int(value)
    return after if after <= MAX_AFTER else None


def _replay(messages: list[ReceiveMessage], receive: Receive) -> Receive:
    """``receive`` that first gives back what the fast lane already read."""
    pending: Iterator[ReceiveMessage] = iter(messages)

    async def replayed() -> ReceiveMessage:
        for message in pending:
            return message
        return await receive()

    return replayed


def _handler_for(handlers: ExceptionHandlersMap, exc: Exception) -> Any:
    """The handler Litestar picks (``get_exception_handler``, private to Litestar): an
    HTTP error's status code first, then the first class of the exception's MRO, else
    the 500 handler."""
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]
    fallback = None if isinstance(exc, HTTPException) else handlers.get(500)
    return next((handlers[kind] for kind in type(exc).__mro__ if kind in handlers), fallback)


class FastLane:
    """Met first by the app (``messenger.app.MessengerApp``, which has put the app and its
    state in the scope as Litestar does); ``app`` is ``Litestar.__call__``, given what the
    fast lane does not serve (the lifespan never comes here)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        calls: SessionCalls,
        edge: WidgetEdge,
        exception_handlers: ExceptionHandlersMap,
        https: bool,
        before_request: BeforeRequest | None = None,
    ) -> None:
        self.app = app
        self.calls = calls
        self.edge = edge
        self.handlers = exception_handlers
        self.hardening = headers_for(ROUTE, https=https)
        self.before_request = before_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != ScopeType.HTTP
            or scope["path"] != ROUTE
            or scope.get("root_path")
            or not self.edge.settings.enabled
        ):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "GET":
            after = _after(scope.get("query_string", b""))
            if after is None:
                await self._hand_over("poll", scope, receive, send)
                return
            await self._serve(scope, receive, send, after, None, time.perf_counter())
            return
        if method != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()  # the body's reading counts, as in the full stack
        length = None if scope.get("query_string") else self._length(scope)
        if length is None:
            await self._hand_over("send", scope, receive, send)
            return
        read: list[ReceiveMessage] = []
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":  # a disconnect: Litestar's to handle
                await self._hand_over("send", scope, _replay(read, receive), send)
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size > length or not message.get("more_body", False):
                break
        try:
            if size != length:
                raise ValueError(size)
            data = _decode_send(b"".join(chunks))
        except (ValueError, msgspec.DecodeError):  # msgspec.ValidationError included
            await self._hand_over("send", scope, _replay(read, receive), send)
            return
        await self._serve(scope, _replay(read, receive), send, None, data, started)

    @staticmethod
    def _length(scope: Scope) -> int | None:
        """The body's length when the request is plainly ``application/json`` with a
        ``Content-Length`` within the limit; None otherwise."""
        content_type = length = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                if content_type is not None:
                    return None
                content_type = value
            elif name == b"content-length":
                if length is not None:
                    return None
                length = value
            elif name == b"transfer-encoding":
                return None
        if content_type != _JSON or length is None or not length.isdigit() or len(length) > 6:
            return None
        size = int(length)
        return size if 0 < size <= BODY_LIMIT else None

    async def _hand_over(self, call: str, scope: Scope, receive: Receive, send: Send) -> None:
        child(FAST_LANE, call, "handed_over").inc()
        await self.app(scope, receive, send)

    async def _serve(
        self,
        scope: HTTPScope,
        receive: Receive,
        send: Send,
        after: int | None,
        data: schemas.SendRequest | None,
        started: float,
    ) -> None:
        call = "poll" if data is None else "send"
        record = RequestRecord(scope, ROUTE, started)
        try:
            request: Request[Any, Any, Any] = Request(scope, receive)
            try:
                if self.before_request is not None:
                    await self.before_request(request)
                if data is None:
                    assert after is not None
                    body = _encode(await self.calls.poll(request, after))
                    status = 200
                else:
                    out, created = await self.calls.send(request, data)
                    body = _encode(out)
                    status = 201 if created else 200
            except Exception as exc:  # every error: answered by the app's own handlers
                await self._error(request, exc, scope, receive, send, record)
                child(FAST_LANE, call, "refused").inc()
                return
            headers = [(b"content-type", _JSON), (b"content-length", str(len(body)).encode())]
            record.status = status
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": await self._finish(headers, scope, record),
                }
            )
            await send({"type": "http.response.body", "body": body, "more_body": False})
            child(FAST_LANE, call, "served").inc()
        finally:
            record.close()

    async def _finish(
        self, headers: list[tuple[bytes, bytes]], scope: Scope, record: RequestRecord
    ) -> list[tuple[bytes, bytes]]:
        """A response's headers as the full stack's middlewares complete them, in their
        order: the CORS edge's, then the hardening headers not already set, then the id."""
        origin = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value.decode("latin-1")
                break
        headers += await self.edge.cors_headers(scope, origin)
        present = {name.lower() for name, _ in headers}
        headers += [(name, value) for name, value in self.hardening if name not in present]
        headers.append(record.header)
        return headers

    async def _error(
        self,
        request: Request[Any, Any, Any],
        exc: Exception,
        scope: Scope,
        receive: Receive,
        send: Send,
        record: RequestRecord,
    ) -> None:
        """The app's exception handler for ``exc`` (by its MRO, as Litestar looks it up),
        its response sent with the headers the middlewares add."""
        app = scope["litestar_app"]
        for hook in app.after_exception:  # as Litestar's exception middleware does
            await hook(exc, scope)
        response: Response[Any] = _handler_for(self.handlers, exc)(request, exc)

        async def send_completed(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                message["headers"] = await self._finish(
                    list(message.get("headers", [])), scope, record
                )
            await send(message)

        asgi = response.to_asgi_response(app=None, request=request, type_encoders=app.type_encoders)
        await asgi(scope, receive, send_completed)
