"""The JSON log line (messenger.logs.JsonFormatter): msgspec-encoded, the same fields and
values as the ``json.dumps`` line it replaced, the same timestamps."""

from __future__ import annotations

import json
import logging
import random
import sys
from datetime import UTC, datetime

from messenger.logs import JsonFormatter, _stamp, request_id


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("messenger.access", logging.INFO, __file__, 1, "request", (), None)
    record.__dict__.update(extra)
    return record


def test_the_timestamp_is_datetimes_to_the_millisecond() -> None:
    rng = random.Random(12)
    stamps = [rng.uniform(0, 4e9) for _ in range(20_000)]
    # Fractions that round up into the next second, and whole seconds.
    stamps += [1_764_480_000.9999996, 1_764_480_000.0, 1_764_480_000.0005, 0.0, 59.9999999]
    for created in stamps:
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert _stamp(created) == expected, created


def test_the_access_line_has_the_fields_and_values_it_had() -> None:
    token = request_id.set("abc12345")
    try:
        record = _record(method="GET", path="/api/widget/messages", status=200, duration_ms=1.2)
        line = JsonFormatter().format(record)
    finally:
        request_id.reset(token)
    assert json.loads(line) == {
        "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": "info",
        "logger": "messenger.access",
        "message": "request",
        "request_id": "abc12345",
        "method": "GET",
        "path": "/api/widget/messages",
        "status": 200,
        "duration_ms": 1.2,
    }
    assert "\n" not in line


def test_values_json_cannot_encode_are_written_as_text() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd «value»"

    line = JsonFormatter().format(_record(thing=Odd(), name_ru="Привет"))
    entry = json.loads(line)
    assert entry["thing"] == "odd «value»"
    assert entry["name_ru"] == "Привет"  # not \u-escaped: the line stays readable
    assert "Привет" in line
    # A value msgspec refuses (an integer past 64 bits) falls back to json.dumps.
    assert json.loads(JsonFormatter().format(_record(big=2**70)))["big"] == 2**70


def test_an_exception_is_in_the_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "messenger", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info()
        )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed x"
    assert "ValueError: boom" in entry["exception"]
