"""What the machine did during a run: CPU per process group, per second, and PostgreSQL
checkpoints. On a 2-core machine shared with other work this decides how far a latency
figure can be trusted, so every load script records it.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


def _machine() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]


def _processes() -> dict[int, tuple[str, int]]:
    """pid → (group name, user+system ticks)."""
    raw_procs: dict[int, tuple[str, str, int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        raw_procs[int(entry.name)] = (
            comm,
            cmdline,
            int(fields[1]),
            int(fields[11]) + int(fields[12]),
        )
    result = {}
    for pid, (comm, cmdline, ppid, ticks) in raw_procs.items():
        if "spawn_main" in cmdline and ppid in raw_procs:
            # a multiprocessing child: it belongs with its parent
            comm, cmdline = raw_procs[ppid][0], raw_procs[ppid][1]
        result[pid] = (_group(comm, cmdline), ticks)
    return result


def _group(comm: str, cmdline: str) -> str:
    if "postgres" in comm or cmdline.startswith("postgres:"):
        return "postgres"
    if "redis" in comm:
        return "redis"
    if "locust" in cmdline:
        return "locust"
    if "loadtests/" in cmdline:
        return "load script"
    if "messenger serve" in cmdline:
        return "messenger serve (others)"
    if "pytest" in cmdline:
        return "pytest (others' tests)"
    if "chrom" in comm or "chrom" in cmdline:
        return "chromium (others' tests)"
    if comm in {"node", "npm"} or "eslint" in cmdline:
        return "node"
    return comm


class Monitor:
    """Samples once a second in a thread; :meth:`stop` returns the summary."""

    def __init__(self, server_pids: list[int] | None = None, interval: float = 1.0) -> None:
        self.server_pids = set(server_pids or [])
        self.interval = interval
        self.busy: list[float] = []
        self.by_group: Counter[str] = Counter()
        self.server_ticks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = 0.0
        self._checkpoints_before = _checkpoints()
        self._sessions_before = _sessions()

    def start(self) -> Monitor:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def _run(self) -> None:
        machine = _machine()
        procs = _processes()
        while not self._stop.wait(self.interval):
            now_machine = _machine()
            now_procs = _processes()
            total = now_machine[0] - machine[0]
            idle = now_machine[1] - machine[1]
            if total:
                self.busy.append(100.0 * (total - idle) / total)
            for pid, (group, ticks) in now_procs.items():
                before = procs.get(pid, (group, 0))[1]
                delta = max(ticks - before, 0)
                if pid in self.server_pids:
                    self.server_ticks += delta
                    group = "messenger serve (this run)"
                self.by_group[group] += delta
            machine, procs = now_machine, now_procs

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=5)
        elapsed = max(time.monotonic() - self._started, 1e-9)
        checkpoints = _checkpoints()
        sessions = _sessions()
        busy = sorted(self.busy)  # the series stays in order in self.busy
        # percent of ONE core, per group, over the run
        groups = {
            group: round(100.0 * ticks / TICKS / elapsed, 1)
            for group, ticks in self.by_group.most_common(8)
            if ticks
        }
        return {
            "seconds": round(elapsed, 1),
            "machine_busy_percent_mean": round(sum(busy) / len(busy), 1) if busy else None,
            "machine_busy_percent_max_1s": round(busy[-1], 1) if busy else None,
            "seconds_over_90_percent_busy": sum(1 for b in busy if b > 90),
            "cpu_percent_of_one_core_by_group": groups,
            "busy_series": [round(b) for b in self.busy],
            "load_database_sessions_opened": (
                sessions - self._sessions_before
                if sessions is not None and self._sessions_before is not None
                else None
            ),
            "postgres_checkpoints": (
                checkpoints - self._checkpoints_before
                if checkpoints is not None and self._checkpoints_before is not None
                else None
            ),
        }


def _checkpoints() -> int | None:
    """Checkpoints so far (timed + requested), from pg_stat_bgwriter; None if unreachable."""
    return _pg_number("SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")


def _sessions() -> int | None:
    """Connections ever opened to the load database (pg_stat_database.sessions, PG 14+)."""
    from harness import DB_NAME

    return _pg_number("SELECT sessions FROM pg_stat_database WHERE datname = $1", DB_NAME)


def _pg_number(sql: str, *params: Any) -> int | None:
    import asyncio

    async def query() -> int:
        import asyncpg
        from harness import ADMIN_DSN

        conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
        try:
            return int(await conn.fetchval(sql, *params) or 0)
        finally:
            await conn.close()

    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(query())
        # inside an event loop: run in a private loop on a thread
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(asyncio.run(query())))
        thread.start()
        thread.join(10)
        return result[0] if result else None
    except Exception:
        return None


def describe(summary: dict[str, Any]) -> str:
    groups = ", ".join(
        f"{name} {pct}%" for name, pct in summary["cpu_percent_of_one_core_by_group"].items()
    )
    return (
        f"machine CPU busy {summary['machine_busy_percent_mean']}% on average "
        f"({summary['seconds_over_90_percent_busy']} of {summary['seconds']} s "
        f"over 90%); CPU by group, % of one core: {groups}; "
        f"PostgreSQL checkpoints: {summary['postgres_checkpoints']}; "
        f"connections opened to the load database: {summary['load_database_sessions_opened']}"
    )
