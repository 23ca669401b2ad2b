"""Structured logs: one JSON object per line, with the request id of the request at hand.

No token and no message body is ever logged at info level: the access line carries the
path without its query string (stream tickets and download signatures live there).
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from messenger.metrics import (
    REQUEST_DURATION,
    REQUEST_ERRORS,
    REQUESTS,
    REQUESTS_IN_PROGRESS,
    UNMEASURED_PREFIXES,
)

request_id: ContextVar[str | None] = ContextVar("messenger_request_id", default=None)
access_log = logging.getLogger("messenger.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
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
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """For ``logging.config.dictConfig`` and uvicorn's ``log_config``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
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


class RequestLogMiddleware:
    """Gives each request an id (kept from a sane ``X-Request-ID``), echoes it, logs one
    line and records the request metrics (by route template) — one timer for both."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = incoming if _SAFE_ID.match(incoming) else os.urandom(16).hex()
        rid_header = (b"x-request-id", rid.encode())
        token = request_id.set(rid)
        path: str = scope["path"]
        measured = not path.startswith(UNMEASURED_PREFIXES)
        method: str = scope["method"]
        route: str = scope.get("path_template") or "<unmatched>"
        if measured:
            REQUESTS_IN_PROGRESS.labels(method, route, "messenger").inc()
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            if measured:
                REQUESTS_IN_PROGRESS.labels(method, route, "messenger").dec()
                labels = (method, route, str(status), "messenger")
                if status >= 500:
                    REQUEST_ERRORS.labels(*labels).inc()
                REQUESTS.labels(*labels).inc()
                REQUEST_DURATION.labels(*labels).observe(duration)
            access_log.info(
                "request",
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": round(duration * 1000, 1),
                },
            )
            request_id.reset(token)
