"""Per-line cost of the JSON log line: the ``json.dumps`` formatter of main (b9e21b8, copied
here) against :class:`messenger.logs.JsonFormatter`; then a whole logged access line through
a ``StreamHandler`` to /dev/null (record + format + write).

    flock /tmp/bench.lock .venv/bin/python loadtests/log_cost.py
"""

from __future__ import annotations

import json
import logging
import os
import timeit
from datetime import UTC, datetime
from typing import Any

from messenger.logs import _STANDARD, JsonFormatter, request_id

LINES = 100_000
EXTRA = {"method": "GET", "path": "/api/widget/messages", "status": 200, "duration_ms": 3.4}


class OldFormatter(logging.Formatter):
    """messenger.logs.JsonFormatter as it was (main at b9e21b8)."""

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


def per_call(call: Any) -> float:
    """Best of 5 repeats, in µs per call."""
    return min(timeit.repeat(call, number=LINES, repeat=5)) / LINES * 1e6


def main() -> None:
    request_id.set("0123456789abcdef0123456789abcdef")
    record = logging.LogRecord("messenger.access", logging.INFO, __file__, 1, "request", (), None)
    record.__dict__.update(EXTRA)
    formatters = {"json.dumps (main)": OldFormatter(), "this tree": JsonFormatter()}
    for name, formatter in formatters.items():
        print(f"{name:<20} {per_call(lambda f=formatter: f.format(record)):6.2f} µs per line")
    with open(os.devnull, "w") as devnull:
        for name, formatter in formatters.items():
            logger = logging.getLogger(f"log_cost.{name}")
            logger.propagate = False
            logger.setLevel(logging.INFO)
            handler = logging.StreamHandler(devnull)
            handler.setFormatter(formatter)
            logger.handlers = [handler]
            cost = per_call(lambda lg=logger: lg.info("request", extra=EXTRA))
            print(f"{name:<20} {cost:6.2f} µs per logged line (record + format + write)")


if __name__ == "__main__":
    main()
