"""The progress reporter of long CLI work: JSON lines with counts and time left; silent
when nobody watches (no terminal, no --json)."""

from __future__ import annotations

import io
import json

from messenger.cli.progress import Reporter


def test_json_lines_count_up_with_the_time_left() -> None:
    stream = io.StringIO()
    with Reporter("retention", 4, as_json=True, stream=stream) as progress:
        progress.advance(2)
        progress.advance(2, step="last batch")
    first, last = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["progress"], first["done"], first["total"]) == ("retention", 2, 4)
    assert first["eta_s"] is not None
    assert first["eta_s"] >= 0
    assert last["done"] == 4
    assert last["eta_s"] == 0.0
    assert last["step"] == "last batch"


def test_silent_without_a_terminal_or_json() -> None:
    stream = io.StringIO()
    with Reporter("erase", 2, as_json=False, stream=stream) as progress:
        progress.advance()
    assert stream.getvalue() == ""
    assert progress.done == 1
