"""Progress of long work (retention, export, erasure of many visitors, seeding).

On a terminal: a ``rich`` bar with the counts and the time left. With ``--json``: one JSON
line per step (``{"progress": "retention", "done": 500, "total": 1200, "elapsed_s": 1.2,
"eta_s": 1.7}``). Both go to stderr: stdout keeps the command's one result (the JSON
document scripts read). Not on a terminal and no ``--json``: silent.
"""

from __future__ import annotations

import json
import sys
import time
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Reporter:
    """``with Reporter("retention", total, as_json=…) as progress: progress.advance(n)``."""

    def __init__(
        self, label: str, total: int | None, *, as_json: bool, stream: IO[str] | None = None
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.as_json = as_json
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self._bar: Progress | None = None
        self._task: object = None

    def __enter__(self) -> Reporter:
        if not self.as_json and self.stream.isatty():
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total)
        return self

    def advance(self, count: int = 1, step: str | None = None) -> None:
        """``count`` more done; ``step`` names what just finished (shown, and in the line)."""
        self.done += count
        if self._bar is not None:
            description = f"{self.label}: {step}" if step else self.label
            self._bar.update(self._task, completed=self.done, description=description)  # type: ignore[arg-type]
        elif self.as_json:
            line = self.snapshot()
            if step:
                line["step"] = step
            self.stream.write(json.dumps(line) + "\n")
            self.stream.flush()

    def snapshot(self) -> dict[str, object]:
        elapsed = time.monotonic() - self.started
        eta: float | None = None
        if self.total and self.done:
            eta = max(elapsed / self.done * (self.total - self.done), 0.0)
        return {
            "progress": self.label,
            "done": self.done,
            "total": self.total,
            "elapsed_s": round(elapsed, 3),
            "eta_s": None if eta is None else round(eta, 3),
        }

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
