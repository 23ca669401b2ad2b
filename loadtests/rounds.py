"""The seed's load test (release checklist §6, issue 13): the Locust scenario — N widget
visitors and M dashboard operators — run several times in a row against the same server,
and the server compared with itself after each run.

After every run (and a short settle) the server's worker processes are measured: resident
memory (VmRSS, summed) and the CPU time they used during the run, per request served. A
later run whose RSS or CPU per request is more than ``LOAD_MAX_GROWTH`` (10 %) above the
first run's fails the whole command (non-zero exit), and so does any 5xx answer. One table
is printed: p50 / p95 / p99 and 5xx per call and run, then RSS, CPU and throughput per run.
Locust's HTML report of every run is written under ``var/load/`` (``run<N>.html``).

Used by ``harness.py locust`` (``make load``).
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor import Monitor, describe
from sse import process_cpu_seconds

MAX_GROWTH = float(os.environ.get("LOAD_MAX_GROWTH", "0.10"))
#: Seconds between the end of a run and the measurement: in-flight work finishes.
SETTLE_SECONDS = float(os.environ.get("LOAD_SETTLE_SECONDS", "5"))
#: The budgets of issue 13 ("Done when"), shown next to the figures.
WIDGET_P95_MS = 100.0
DASHBOARD_P95_MS = 300.0
WIDGET_CALLS = {"bootstrap", "send (first)", "send", "poll", "typing", "read"}


@dataclass
class CallStats:
    requests: int
    failures: int
    p50: float
    p95: float
    p99: float


@dataclass
class RunResult:
    number: int
    exit_code: int
    calls: dict[str, CallStats]
    server_errors: dict[str, int]
    rss_kib: int
    cpu_seconds: float
    seconds: float
    machine: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return sum(c.requests for c in self.calls.values())

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000.0 * self.cpu_seconds / max(self.requests, 1)


def create_operators(count: int, branch_id: int) -> tuple[list[str], str]:
    """``count`` operators of the seeded branch, one shared random password (this process
    has the server's environment: see ``harness.apply_env``)."""
    if count <= 0:
        return [], ""
    from messenger.accounts.service import UserService
    from messenger.branches.service import BranchService
    from messenger.cli.common import run_db
    from messenger.db.models import UserRole

    password = secrets.token_urlsafe(12)
    emails = [f"load-operator-{n}@load.messenger.local" for n in range(count)]

    async def work(session: Any, _: Any) -> None:
        branches = await BranchService(session=session).require_all([branch_id])
        users = UserService(session=session)
        for n, email in enumerate(emails):
            await users.create_user(
                email=email,
                name=f"Load Operator {n}",
                password=password,
                role=UserRole.OPERATOR,
                branches=branches,
            )

    run_db(work)
    return emails, password


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def cpu_seconds(pids: list[int]) -> float:
    return sum(process_cpu_seconds(pid) for pid in pids)


def read_stats(csv_prefix: Path) -> dict[str, CallStats]:
    calls: dict[str, CallStats] = {}
    with Path(f"{csv_prefix}_stats.csv").open(newline="") as stats:
        for row in csv.DictReader(stats):
            if row["Name"] == "Aggregated":
                continue
            calls[row["Name"]] = CallStats(
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                p50=_number(row.get("50%")),
                p95=_number(row.get("95%")),
                p99=_number(row.get("99%")),
            )
    return calls


def _number(text: str | None) -> float:
    try:
        return float(text or "nan")
    except ValueError:
        return float("nan")


def run_rounds(
    *,
    runs: int,
    locust_command: Callable[[Path, Path], list[str]],
    env: dict[str, str],
    worker_pids: Callable[[], list[int]],
    time_limit: float,
    var: Path,
) -> list[RunResult]:
    """Run Locust ``runs`` times; measure the server after each run."""
    results: list[RunResult] = []
    for number in range(1, runs + 1):
        csv_prefix = var / f"run{number}"
        html = var / f"run{number}.html"
        errors_file = var / f"run{number}-5xx.json"
        errors_file.unlink(missing_ok=True)
        command = locust_command(csv_prefix, html)
        print(f"--- run {number} of {runs}: $ {' '.join(command)}", flush=True)
        pids = worker_pids()
        cpu_before = cpu_seconds(pids)
        monitor = Monitor(pids).start()
        started = time.monotonic()
        completed = subprocess.run(  # noqa: S603 - our own locust command
            command,
            env={
                **os.environ,
                **env,
                "LOAD_5XX_FILE": str(errors_file),
                # Every request's time and latency: trace_summary.py shows them per window.
                "LOAD_TRACE_FILE": str(var / f"run{number}-trace.csv"),
            },
            check=False,
            timeout=time_limit,
        )
        seconds = time.monotonic() - started
        machine = monitor.stop()
        time.sleep(SETTLE_SECONDS)
        pids_after = worker_pids()
        if sorted(pids_after) != sorted(pids):
            print(f"!! the server's workers changed during run {number}: {pids} -> {pids_after}")
        server_errors = json.loads(errors_file.read_text()) if errors_file.exists() else {}
        result = RunResult(
            number=number,
            exit_code=completed.returncode,
            calls=read_stats(csv_prefix),
            server_errors={k: int(v) for k, v in server_errors.items()},
            rss_kib=rss_kib(pids_after),
            cpu_seconds=cpu_seconds(pids_after) - cpu_before,
            seconds=seconds,
            machine=machine,
        )
        results.append(result)
        print(
            f"run {number}: locust exited {completed.returncode}; {result.requests} requests; "
            f"server RSS {result.rss_kib / 1024:.1f} MiB; during the run: {describe(machine)}",
            flush=True,
        )
    return results


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:.0f}"  # NaN: no such call in that run


def table(results: list[RunResult]) -> str:
    names = sorted({name for r in results for name in r.calls}, key=_call_order)
    head = f"{'call':<16}" + "".join(
        f" | run {r.number}: {'p50':>5} {'p95':>5} {'p99':>5} {'5xx':>4} {'fail':>4}"
        for r in results
    )
    lines = [head, "-" * len(head)]
    for name in names:
        cells = []
        for r in results:
            c = r.calls.get(name)
            if c is None:
                cells.append(" | " + " " * 33)
                continue
            cells.append(
                f" | {'':6} {_ms(c.p50):>5} {_ms(c.p95):>5} {_ms(c.p99):>5} "
                f"{r.server_errors.get(name, 0):>4} {c.failures:>4}"
            )
        lines.append(f"{name:<16}" + "".join(cells))
    lines.append("-" * len(head))
    first = results[0]
    for label, value in (
        ("requests", lambda r: f"{r.requests}"),
        ("requests/s", lambda r: f"{r.requests / max(r.seconds, 1e-9):.0f}"),
        ("RSS MiB", lambda r: f"{r.rss_kib / 1024:.1f} ({_growth(r.rss_kib, first.rss_kib)})"),
        (
            "CPU ms/request",
            lambda r: (
                f"{r.cpu_ms_per_request:.2f} "
                f"({_growth(r.cpu_ms_per_request, first.cpu_ms_per_request)})"
            ),
        ),
        ("CPU s (server)", lambda r: f"{r.cpu_seconds:.1f}"),
    ):
        lines.append(
            f"{label:<16}" + "".join(f" | {'':6} {value(r):>24}" + " " * 3 for r in results)
        )
    return "\n".join(lines)


def _call_order(name: str) -> tuple[int, str]:
    return (0 if name in WIDGET_CALLS else 1, name)


def _growth(value: float, first: float) -> str:
    return f"{100.0 * (value - first) / first:+.1f}%" if first else "n/a"


def verdict(results: list[RunResult]) -> tuple[bool, list[str]]:
    """(passed, lines): growth over MAX_GROWTH or any 5xx fails; budgets are reported."""
    lines: list[str] = []
    passed = True
    first = results[0]
    for r in results[1:]:
        for label, value, base in (
            ("RSS", float(r.rss_kib), float(first.rss_kib)),
            ("CPU per request", r.cpu_ms_per_request, first.cpu_ms_per_request),
        ):
            grew = base > 0 and value > base * (1 + MAX_GROWTH)
            passed &= not grew
            lines.append(
                f"{'FAIL' if grew else 'ok  '} run {r.number} {label} {_growth(value, base)} "
                f"vs run 1 (limit +{100 * MAX_GROWTH:.0f}%)"
            )
    errors = sum(sum(r.server_errors.values()) for r in results)
    passed &= errors == 0
    lines.append(f"{'FAIL' if errors else 'ok  '} 5xx answers: {errors}")
    for r in results:
        over = [
            f"{name} p95 {c.p95:.0f} ms"
            for name, c in r.calls.items()
            if c.p95 > (WIDGET_P95_MS if name in WIDGET_CALLS else DASHBOARD_P95_MS)
        ]
        lines.append(
            f"{'note' if over else 'ok  '} run {r.number} p95 budgets (widget <= "
            f"{WIDGET_P95_MS:.0f} ms, dashboard <= {DASHBOARD_P95_MS:.0f} ms): "
            + (", ".join(over) if over else "all within")
        )
    return passed, lines
