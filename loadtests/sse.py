"""A minimal Server-Sent Events reader and latency statistics for the load scripts."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import httpx


@dataclass
class Event:
    event: str | None = None
    id: str | None = None
    data: str | None = None
    comments: list[str] = field(default_factory=list)


async def events(response: httpx.Response) -> AsyncIterator[Event]:
    """The events (and comment-only items) of an open ``text/event-stream`` response."""
    current = Event()
    async for line in response.aiter_lines():
        if line == "":
            if current.event or current.data is not None or current.comments:
                yield current
            current = Event()
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            current.comments.append(value)
        elif name == "event":
            current.event = value
        elif name == "id":
            current.id = value
        elif name == "data":
            current.data = value if current.data is None else current.data + "\n" + value


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    if not sorted_values:
        return math.nan
    if len(sorted_values) == 1:
        return sorted_values[0]
    rank = (len(sorted_values) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def summary(values_ms: Sequence[float]) -> dict[str, float]:
    values = sorted(values_ms)
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": values[-1] if values else math.nan,
    }


def table(rows: dict[str, Sequence[float]], *, unit: str = "ms") -> str:
    """A Markdown table of n / p50 / p95 / p99 / max per row."""
    lines = [
        f"| what | n | p50 {unit} | p95 {unit} | p99 {unit} | max {unit} |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, values in rows.items():
        s = summary(values)
        lines.append(
            f"| {name} | {s['n']} | {s['p50']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} | {s['max']:.1f} |"
        )
    return "\n".join(lines)


class CpuSampler:
    """Machine-wide CPU use from /proc/stat between two samples (to show what else ran)."""

    def __init__(self) -> None:
        self._start = self._read()

    @staticmethod
    def _read() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    def busy_percent(self) -> float:
        total, idle = self._read()
        d_total = total - self._start[0]
        d_idle = idle - self._start[1]
        return 100.0 * (d_total - d_idle) / d_total if d_total else math.nan


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (from /proc/<pid>/stat)."""
    import os

    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def wait_for_quiet(max_busy_percent: float, max_wait_seconds: float, window: float = 5.0) -> float:
    """Wait (bounded) until the machine's CPU is mostly idle over a ``window``, so that
    other work on the machine (test suites, browsers) does not distort a measurement.
    Returns the busy percentage of the last window."""
    import time

    deadline = time.monotonic() + max_wait_seconds
    while True:
        sampler = CpuSampler()
        time.sleep(window)
        busy = sampler.busy_percent()
        if busy <= max_busy_percent or time.monotonic() >= deadline:
            return busy
