"""Structured logs: one JSON object per line, with the request id of the request at hand.

No token and no message body is ever logged at info level: the access line carries the
path without its query string (stream tickets and download signatures live there).
"""

from __future__ import annotations

import functools
import json
import logging
import logging.config
import math
import os
import re
import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from messenger.metrics import (
    REQUEST_DURATION,
    REQUEST_ERRORS,
    REQUESTS,
    REQUESTS_IN_PROGRESS,
    UNMEASURED_PREFIXES,
    child,
)

request_id: ContextVar[str | None] = ContextVar("messenger_request_id", default=None)
access_log = logging.getLogger("messenger.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


_string = msgspec.json.Encoder().encode
#: What ``json.dumps(value, ensure_ascii=False, default=str)`` writes (the line's format).
_dumps = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _json(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, default=str)``, with the common scalar types
    written without building an encoder: msgspec escapes a string exactly as ``json`` does
    with ``ensure_ascii=False`` (checked in tests/unit/test_logs.py), and ``json`` writes
    ints and finite floats by their ``repr``."""
    kind = type(value)
    if kind is str:
        try:
            return _string(value).decode()
        except UnicodeEncodeError:  # a lone surrogate: json writes it, msgspec refuses
            return _dumps(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return _dumps(value)


def _stamp(created: float) -> str:
    """``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")``, with the
    date and time of day formatted once per second (the same rounding as ``datetime``:
    microseconds round half to even, then the milliseconds are truncated)."""
    frac, whole = math.modf(created)
    micro = round(frac * 1e6)
    if micro >= 1_000_000:
        whole += 1
        micro -= 1_000_000
    elif micro < 0:  # before 1970
        whole -= 1
        micro += 1_000_000
    return f"{_second(int(whole))}.{micro // 1000:03d}+00:00"


@functools.lru_cache(maxsize=4)
def _second(whole: int) -> str:
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def json_line(entry: dict[str, Any]) -> str:
    """The line's text for ``entry``: ``json.dumps(entry, ensure_ascii=False, default=str)``."""
    return "{" + ", ".join([f"{_json(key)}: {_json(value)}" for key, value in entry.items()]) + "}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the request id, and every
    ``extra`` field — the text ``json.dumps(entry, ensure_ascii=False, default=str)`` wrote,
    byte for byte, at about half its cost (docs/performance.md, "The fast lane")."""

    def format(self, record: logging.LogRecord) -> str:
        return json_line(self._entry(record))

    def _entry(self, record: logging.LogRecord) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": _stamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key != "color_message":
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return entry


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """``logging.StreamHandler`` that writes the access lines in batches, not one by one.

    The standard handler writes and flushes each record: one ``write`` system call per
    request for the access line (always so when ``PYTHONUNBUFFERED`` is set, as container
    images usually do), a measurable share of a widget poll's CPU (docs/performance.md).
    Here the access lines (:meth:`write_line`) are kept in the handler's own buffer and
    written together: by a thread every ``interval`` seconds, or at once when the buffer
    passes ``max_bytes``. Every other record is written at once, after the lines before
    it, in order: so a server's own messages (start, shutdown) are never held back, and
    the last access lines go out with them (uvicorn ends by re-raising the signal it
    caught, which skips ``logging.shutdown``). What a SIGKILL can lose is the last
    ``interval`` of access lines. The standard library has no time-based flush
    (``MemoryHandler`` flushes by count or level only)."""

    def __init__(
        self, stream: Any = None, interval: float = 0.2, max_bytes: int = 64 * 1024
    ) -> None:
        super().__init__(stream)
        self._interval = interval
        self._max_bytes = max_bytes
        self._lines: list[str] = []
        self._size = 0
        self._flusher_pid = 0  # the process whose flusher runs (a fork has none)
        self._stopped = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            with self.lock:  # type: ignore[union-attr]
                self._add(line)
                self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def write_line(self, line: str) -> None:
        """Add an access line already formatted (see :func:`_access_handler`): written with
        the next batch."""
        with self.lock:  # type: ignore[union-attr]
            self._add(line)
            if self._size > self._max_bytes:
                self._write()
            elif self._flusher_pid != os.getpid():
                self._start_flusher()

    def _add(self, line: str) -> None:
        self._lines.append(line)
        self._size += len(line)

    def _write(self) -> None:
        """The buffered lines to the stream (the caller holds the lock)."""
        if self._lines:
            self._lines.append("")
            text = self.terminator.join(self._lines)
            self._lines.clear()
            self._size = 0
            self.stream.write(text)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()
            super().flush()

    def _start_flusher(self) -> None:
        self._flusher_pid = os.getpid()
        threading.Thread(target=self._flush_every_interval, name="log-flush", daemon=True).start()

    def _flush_every_interval(self) -> None:
        while not self._stopped.wait(self._interval):
            if self._lines:
                self.flush()

    def close(self) -> None:
        self._stopped.set()
        self.flush()
        super().close()


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """For ``logging.config.dictConfig`` and uvicorn's ``log_config``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stdout": {
                "()": BufferedStreamHandler,
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            "uvicorn": {"level": level},
            "uvicorn.error": {"level": level},
            # uvicorn's access line includes query strings: ours (RequestLogMiddleware) does not.
            "uvicorn.access": {"level": "WARNING", "propagate": False, "handlers": []},
        },
    }


def _access_handler() -> BufferedStreamHandler | None:
    """The handler an access line would reach, when it is the only place it goes and
    nothing could change the line on its way: our buffered handler with our JSON
    formatter on the root logger, no filter anywhere, info enabled. Then the line is
    written straight to it, without a ``LogRecord`` and the logging module's dispatch
    (a tenth of a widget poll's CPU); otherwise (tests capturing logs, another
    configuration) it goes through ``logging`` as usual. Checked at every request: a few
    attribute reads, so a reconfiguration is followed at once."""
    root = logging.root
    handlers = root.handlers
    if len(handlers) != 1 or access_log.handlers or access_log.filters or root.filters:
        return None
    handler = handlers[0]
    if (
        type(handler) is not BufferedStreamHandler
        or type(handler.formatter) is not JsonFormatter
        or handler.filters
        or handler.level > logging.INFO
        or not access_log.propagate
        or not access_log.isEnabledFor(logging.INFO)
    ):
        return None
    return handler


class RequestRecord:
    """One request's id, timer, log line and metrics: opened when the request arrives,
    closed when it is done. Used by :class:`RequestLogMiddleware` and by the widget's fast
    lane (:mod:`messenger.widget.fastlane`), so both log and count a request alike."""

    __slots__ = (
        "header",
        "in_progress",
        "measured",
        "method",
        "path",
        "route",
        "started",
        "status",
        "token",
    )

    def __init__(self, scope: HTTPScope, route: str, started: float | None = None) -> None:
        incoming = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = incoming if _SAFE_ID.match(incoming) else os.urandom(16).hex()
        #: The response header echoing the request id.
        self.header = (b"x-request-id", rid.encode())
        self.token = request_id.set(rid)
        self.path: str = scope["path"]
        self.measured = not self.path.startswith(UNMEASURED_PREFIXES)
        self.method: str = scope["method"]
        self.route = route
        self.in_progress: Any = None
        if self.measured:
            self.in_progress = child(REQUESTS_IN_PROGRESS, self.method, route, "messenger")
            self.in_progress.inc()
        self.started = time.perf_counter() if started is None else started
        #: The response's status, once it started (500 if it never did).
        self.status = 500

    def close(self) -> None:
        """Record the metrics and write the access line (no query string, no body)."""
        duration = time.perf_counter() - self.started
        method, route, status = self.method, self.route, self.status
        if self.in_progress is not None:
            self.in_progress.dec()
            labels = (method, route, str(status), "messenger")
            if status >= 500:
                child(REQUEST_ERRORS, *labels).inc()
            child(REQUESTS, *labels).inc()
            child(REQUEST_DURATION, *labels).observe(duration)
        fields = {
            "method": method,
            "path": self.path,
            "status": status,
            "duration_ms": round(duration * 1000, 1),
        }
        handler = _access_handler()
        if handler is None:
            access_log.info("request", extra=fields)
        else:
            # The same text JsonFormatter writes for that record (tests/unit/test_logs.py).
            entry: dict[str, Any] = {
                "time": _stamp(time.time()),
                "level": "info",
                "logger": access_log.name,
                "message": "request",
            }
            rid = request_id.get()
            if rid:
                entry["request_id"] = rid
            entry.update(fields)
            handler.write_line(json_line(entry))
        request_id.reset(self.token)


class RequestLogMiddleware:
    """Gives each request an id (kept from a sane ``X-Request-ID``), echoes it, logs one
    line and records the request metrics (by route template) — one timer for both."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        record = RequestRecord(scope, scope.get("path_template") or "<unmatched>")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                message["headers"] = [*message.get("headers", []), record.header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            record.close()
