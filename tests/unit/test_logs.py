"""The JSON log line (messenger.logs.JsonFormatter): the very text ``json.dumps(entry,
ensure_ascii=False, default=str)`` wrote before it was made cheaper, and the same timestamps.
"""

from __future__ import annotations

import enum
import json
import logging
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import Counter

from messenger.logs import BufferedStreamHandler, JsonFormatter, _stamp, request_id
from messenger.metrics import child


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("messenger.access", logging.INFO, __file__, 1, "request", (), None)
    record.__dict__.update(extra)
    return record


def _as_before(record: logging.LogRecord, formatter: JsonFormatter) -> str:
    """What the formatter wrote with ``json.dumps`` (main at b9e21b8)."""
    entry: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": record.getMessage(),
    }
    rid = request_id.get()
    if rid:
        entry["request_id"] = rid
    standard = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
    for key, value in record.__dict__.items():
        if key not in standard and not key.startswith("_") and key != "color_message":
            entry[key] = value
    if record.exc_info:
        entry["exception"] = formatter.formatException(record.exc_info)
    return json.dumps(entry, ensure_ascii=False, default=str)


def test_the_timestamp_is_datetimes_to_the_millisecond() -> None:
    rng = random.Random(12)
    stamps = [rng.uniform(0, 4e9) for _ in range(20_000)]
    # Fractions that round up into the next second, and whole seconds.
    stamps += [1_764_480_000.9999996, 1_764_480_000.0, 1_764_480_000.0005, 0.0, 59.9999999]
    for created in stamps:
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert _stamp(created) == expected, created


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def test_every_line_is_the_text_json_dumps_wrote() -> None:
    formatter = JsonFormatter()
    rng = random.Random(7)
    alphabet = [chr(c) for c in range(0x00, 0x80)] + list("ёЖ€\u2028\u2029😀\ufeff\x85")
    token = request_id.set("abc12345")
    try:
        access = _record(method="GET", path="/api/widget/messages", status=200, duration_ms=1.2)
        assert formatter.format(access) == _as_before(access, formatter)
        for n in range(3000):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
            record = _record(
                path=text,
                status=rng.randint(-(2**70), 2**70),
                duration_ms=rng.choice([0.1, 1e16, 1e-7, float("nan"), float("inf"), 2.5]),
                flag=rng.choice([True, False, None]),
                thing=rng.choice([Colour.RED, Level.HIGH, object, (1, "a"), {"k": [1.5]}, b"x"]),
                nested={"text": text},
            )
            record.msg = f"message %s {n}"
            record.args = (text,)
            assert formatter.format(record) == _as_before(record, formatter), repr(text)
        # A lone surrogate, and an extra named like one of the line's own fields.
        odd = _record(path="\ud800", level="custom")
        assert formatter.format(odd) == _as_before(odd, formatter)
    finally:
        request_id.reset(token)
    line = formatter.format(_record(name_ru="Привет"))
    assert "Привет" in line  # not \\u-escaped: the line stays readable
    assert json.loads(line)["name_ru"] == "Привет"


def test_an_exception_is_in_the_line() -> None:
    formatter = JsonFormatter()
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "messenger", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info()
        )
    line = formatter.format(record)
    assert line == _as_before(record, formatter)
    entry = json.loads(line)
    assert entry["message"] == "failed x"
    assert "ValueError: boom" in entry["exception"]


def _logger(handler: logging.Handler, name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger


def test_access_lines_reach_the_file_within_the_flush_interval_records_at_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.jsonl"
    with path.open("w", buffering=64 * 1024) as stream:  # block-buffered, like a piped stdout
        handler = BufferedStreamHandler(stream, interval=0.3)
        logger = _logger(handler, "test.buffered")
        try:
            handler.write_line("first")
            # not written per line (the flusher, started now, first wakes after 0.3 s)
            assert path.read_text() == ""
            deadline = time.monotonic() + 5
            while "first" not in path.read_text():
                assert time.monotonic() < deadline, "the access line was never written"
                time.sleep(0.01)
            handler.write_line("second")
            logger.info("third")  # any record: written at once, after the lines before it
            assert path.read_text().splitlines() == ["first", "second", "third"]
            handler.write_line("fourth")
        finally:
            logger.removeHandler(handler)
            handler.close()
        assert path.read_text().splitlines()[-1] == "fourth"  # close writes the rest


def test_a_cached_metric_child_is_the_registered_one() -> None:
    counter = Counter("messenger_test_child_total", "test", ["a", "b"], registry=None)
    first = child(counter, "x", "y")
    assert first is child(counter, "x", "y") is counter.labels("x", "y")
    first.inc()
    assert counter.labels("x", "y")._value.get() == 1
    assert child(counter, "x", "z") is not first


def test_the_access_line_written_directly_is_the_line_logging_writes() -> None:
    import io

    from messenger.logs import RequestRecord, _access_handler, access_log

    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, interval=60)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    saved, saved_level = root.handlers[:], root.level
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    scope: Any = {
        "type": "http",
        "method": "GET",
        "path": "/api/widget/messages",
        "headers": [(b"x-request-id", b"req-12345678")],
    }
    try:
        record = RequestRecord(scope, "/api/widget/messages")
        record.status = 200
        assert _access_handler() is handler
        record.close()  # straight to the handler
        blocked = logging.Filter("nothing")  # a filter anywhere: through logging
        access_log.addFilter(blocked)
        access_log.removeFilter(blocked)
        handler.addFilter(lambda _record: True)
        assert _access_handler() is None
        record = RequestRecord(scope, "/api/widget/messages")
        record.status = 200
        record.close()
    finally:
        root.handlers = saved
        root.setLevel(saved_level)
        handler.close()
    direct, logged = stream.getvalue().splitlines()
    strip = [json.loads(line) for line in (direct, logged)]
    for entry in strip:
        assert entry.pop("time")
        assert entry.pop("duration_ms") >= 0
    assert (
        strip[0]
        == strip[1]
        == {
            "level": "info",
            "logger": "messenger.access",
            "message": "request",
            "request_id": "req-12345678",
            "method": "GET",
            "path": "/api/widget/messages",
            "status": 200,
        }
    )
    # Same keys in the same order, same spacing: the same text but for the values.
    assert list(json.loads(direct)) == list(json.loads(logged))
    assert direct.replace(" ", "").count(",") == logged.replace(" ", "").count(",")


def test_a_full_buffer_is_written_at_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with path.open("w", buffering=1) as stream:  # line-buffered: what reaches it shows at once
        handler = BufferedStreamHandler(stream, interval=60, max_bytes=100)
        try:
            handler.write_line("a" * 60)
            assert path.read_text() == ""
            handler.write_line("b" * 60)  # past 100 bytes: both written now
            assert path.read_text().splitlines() == ["a" * 60, "b" * 60]
        finally:
            handler.close()
