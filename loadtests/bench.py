"""``make bench``: the widget hot path against its floor, side by side, with wrk.

Starts the product (``messenger serve``, one worker, a fresh ``messenger_load`` database and
generous limits: ``harness.managed_server``) and the floor (``loadtests/floor.py``, a bare ASGI
app doing only the I/O of each call, on the same database), prepares 200 visitors of the demo
inbox (bootstrap + 3 messages each), then loads the floor and the product back to back,
the same wrk scripts (``loadtests/wrk/*.lua``: 2 threads, 50 connections, 10 s after a 2 s
warm-up) for each call:

- send: ``POST /api/widget/messages``, a unique ``client_msg_id`` per request;
- poll (nothing new): ``GET /api/widget/messages?after=<newest id>``;
- poll (one new): ``after=<newest id - 1>``: exactly one message in every answer;
- bootstrap (returning visitor): ``POST /api/widget/bootstrap`` with the session token
  (run first: each conversation then holds the 3 messages of the preparation).

Before each call's pair the database is vacuumed and analyzed (``VACUUM ANALYZE``), as
PostgreSQL's autovacuum keeps a production database: this machine's server runs with
``autovacuum = off``, so without it the planner has no statistics for the fresh tables and
every dead row version the previous call left stays in the indexes. The floor and the
product meet the same database.

It prints calls/s, p50, p99 and the non-2xx count of each, and the ratio product / floor of
calls/s; writes the table to ``var/bench/bench-<time>.{json,md}`` (and ``latest.*``). Only
ratios of one run are comparable: the machine is shared. Any non-2xx answer is reported and
makes the exit status 1.

    python loadtests/bench.py                         # the whole table
    python loadtests/bench.py --calls send --profile  # + a py-spy profile of the product's send

Settings (environment): those of ``harness.py`` (``LOAD_QUIET_WAIT``, ...), with other
defaults: ``LOAD_DB_NAME=messenger_bench``, ``LOAD_REDIS_PREFIX=bench``, ``LOAD_PORT=8775``
(the floor on the next port);
``BENCH_DURATION`` (default 10s), ``BENCH_THREADS`` (2), ``BENCH_CONNECTIONS`` (50),
``BENCH_SESSIONS`` (200).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Its own database, Redis prefix and ports, so that a `make load` running at the same time
# (harness.py's defaults: messenger_load, load:, 8765) and this never drop each other's data.
os.environ.setdefault("LOAD_DB_NAME", "messenger_bench")
os.environ.setdefault("LOAD_REDIS_PREFIX", "bench")
os.environ.setdefault("LOAD_PORT", "8775")

from harness import (
    BIN,
    LOADTESTS,
    QUIET_BELOW,
    QUIET_WAIT,
    ROOT,
    Server,
    managed_server,
    ready,
)
from monitor import Monitor
from profile_summary import summarize
from sse import process_cpu_seconds, wait_for_quiet

OUT = ROOT / "var" / "bench"
WRK_DIR = LOADTESTS / "wrk"
DURATION = os.environ.get("BENCH_DURATION", "10s")
WARMUP = os.environ.get("BENCH_WARMUP", "2s")
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "50"))
SESSIONS = int(os.environ.get("BENCH_SESSIONS", "200"))
#: Messages each visitor sends while being prepared: what a returning visitor's bootstrap
#: gets back (bootstrap is measured first, before the sends add more).
HISTORY = 3
#: Far above what one worker can do: the benchmark measures the path, not the limits.
UNLIMITED = "100000000/minute"
BENCH_ENV = {
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP": UNLIMITED,
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN": UNLIMITED,
    "MESSENGER_WIDGET_SEND_RATE_PER_SESSION": UNLIMITED,
    "MESSENGER_WIDGET_SEND_RATE_PER_IP": UNLIMITED,
    "MESSENGER_WIDGET_POLL_RATE_PER_SESSION": UNLIMITED,
    # 1 ms: each wrk thread rotates over 100 sessions, so one session is polled again only
    # after ~100 other requests of its thread.
    "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS": "0.001",
}
CALLS = {
    "send": ("send.lua", "/api/widget/messages", "newest"),
    "poll (nothing new)": ("poll.lua", "/api/widget/messages", "newest"),
    "poll (one new)": ("poll.lua", "/api/widget/messages", "newest-1"),
    "bootstrap (returning)": ("bootstrap.lua", "/api/widget/bootstrap", "newest"),
}
#: In the order they run: bootstrap first, while each conversation holds HISTORY messages.
SHORT = {
    "bootstrap": "bootstrap (returning)",
    "send": "send",
    "poll-none": "poll (nothing new)",
    "poll-one": "poll (one new)",
}


@dataclass
class Visitor:
    session_token: str
    conversation_id: str


# --- preparing the visitors ------------------------------------------------------------------


async def _prepare_visitors(server: Server, count: int) -> list[Visitor]:
    import httpx

    headers = {"Origin": server.origin}
    limit = asyncio.Semaphore(8)

    async def one(client: httpx.AsyncClient, n: int) -> Visitor:
        async with limit:
            boot = await client.post(
                "/api/widget/bootstrap",
                json={
                    "widget_token": server.seed.widget_token,
                    "page_url": f"{server.origin}/catalog/{n % 50}",
                    "locale": "ru-RU",
                },
                headers=headers,
            )
            if boot.status_code != 200:
                raise SystemExit(f"bootstrap answered {boot.status_code}: {boot.text[:300]}")
            token = boot.json()["session_token"]
            for k in range(HISTORY):
                sent = await client.post(
                    "/api/widget/messages",
                    json={"body": f"visitor {n}, message {k}", "client_msg_id": uuid.uuid4().hex},
                    headers={**headers, "Authorization": f"Bearer {token}"},
                )
                if sent.status_code != 201:
                    raise SystemExit(f"a send answered {sent.status_code}: {sent.text[:300]}")
            return Visitor(token, sent.json()["conversation_id"])

    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        return list(await asyncio.gather(*(one(client, n) for n in range(count))))


async def _newest_ids(dsn: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT conversation_id::text AS id, max(id) AS newest FROM messages "
            "WHERE kind <> 'note' GROUP BY conversation_id"
        )
    finally:
        await conn.close()
    return {row["id"]: row["newest"] for row in rows}


async def _vacuum_analyze(dsn: str) -> None:
    """What autovacuum would have done by now on a server that runs it (see the docstring)."""
    import asyncpg

    conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()


def _sessions_file(
    target: str, visitors: list[Visitor], newest: dict[str, int], after: str
) -> Path:
    path = OUT / f"sessions-{target}.txt"
    lines = []
    for visitor in visitors:
        token = visitor.session_token if target == "product" else visitor.conversation_id
        after_id = newest[visitor.conversation_id] - (1 if after == "newest-1" else 0)
        lines.append(f"{token} {after_id}\n")
    path.write_text("".join(lines))
    return path


# --- the floor -------------------------------------------------------------------------------


def _start_floor(server: Server, port: int) -> subprocess.Popen[bytes]:
    if ready(f"http://127.0.0.1:{port}", timeout=1) is not None:
        raise SystemExit(f"something already answers on 127.0.0.1:{port}")
    log = (OUT / f"floor-{port}.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(LOADTESTS / "floor.py"), "--port", str(port)],
        env={**os.environ, **server.env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while ready(f"http://127.0.0.1:{port}", timeout=1) != 200:
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the floor did not start; see {log.name}")
        time.sleep(0.2)
    return process


# --- wrk -------------------------------------------------------------------------------------


def _wrk(
    base_url: str, script: str, path: str, sessions: Path, server: Server, duration: str
) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{duration}",
        "--timeout",
        "10s",
        "-s",
        str(WRK_DIR / script),
        f"{base_url}{path}",
        "--",
        str(sessions),
        server.origin,
        server.seed.widget_token,
        str(THREADS),
        uuid.uuid4().hex[:12],
    ]
    result = subprocess.run(  # noqa: S603 - wrk with arguments built here
        command, capture_output=True, text=True, timeout=300, check=False
    )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            seconds = data["duration_us"] / 1e6
            data["calls_per_s"] = round(data["requests"] / seconds, 1) if seconds else 0.0
            data["p50_ms"] = round(data["p50_us"] / 1000, 2)
            data["p99_ms"] = round(data["p99_us"] / 1000, 2)
            return data
    raise SystemExit(f"wrk gave no summary:\n{result.stdout}\n{result.stderr}")


def _drain(pids: list[int], limit: float = 60.0) -> None:
    """Until the server has finished what the last wrk run left queued (its CPU below 5 %
    over half a second): a backlog would be measured as the next call's cost."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = sum(process_cpu_seconds(pid) for pid in pids)
        time.sleep(0.5)
        if sum(process_cpu_seconds(pid) for pid in pids) - before < 0.025:
            return


def _measure(
    label: str,
    base_url: str,
    call: str,
    sessions: Path,
    server: Server,
    pids: list[int],
) -> dict[str, Any]:
    script, path, _ = CALLS[call]
    _wrk(base_url, script, path, sessions, server, WARMUP)  # pools, caches, JIT of wrk's Lua
    _drain(pids)
    monitor = Monitor(pids).start()
    data = _wrk(base_url, script, path, sessions, server, DURATION)
    machine = monitor.stop()
    _drain(pids)
    data["machine_busy_percent"] = machine["machine_busy_percent_mean"]
    data["cpu_percent_of_one_core_by_group"] = machine["cpu_percent_of_one_core_by_group"]
    note = f"  NON-2xx: {data['non2xx']} {data['statuses']}" if data["non2xx"] else ""
    print(
        f"  {label:<7} {call:<22} {data['calls_per_s']:>9.1f}/s  p50 {data['p50_ms']:>7.2f} ms"
        f"  p99 {data['p99_ms']:>7.2f} ms  (machine {data['machine_busy_percent']}% busy){note}",
        flush=True,
    )
    return data


def _profile(server: Server, sessions: Path, seconds: int, call: str = "send") -> dict[str, Any]:
    """py-spy on the product's worker while wrk loads ``call``: collapsed stacks (speedscope
    opens them) summarised by module, then a second recording as a flame graph (SVG)."""
    spy = shutil.which("py-spy") or str(BIN / "py-spy")
    name = call.split(" ")[0]
    raw = OUT / f"{name}.folded"
    pid = str(server.worker_pids()[0])
    spy_cmd = [spy, "record", "--pid", pid, "--duration", str(seconds), "--rate", "200"]
    spy_cmd += ["--nonblocking", "--format", "raw", "--output", str(raw)]
    script, path, _ = CALLS[call]
    _drain(server.worker_pids())
    profiler = subprocess.Popen(spy_cmd, stdout=subprocess.DEVNULL)  # noqa: S603
    time.sleep(1)
    _wrk(server.base_url, script, path, sessions, server, f"{seconds - 2}s")
    profiler.wait(timeout=60)
    _drain(server.worker_pids())
    # The same load once more for a flame graph (py-spy writes one format per recording).
    spy_cmd = [*spy_cmd[:-4], "--format", "flamegraph", "--output", str(OUT / f"{name}.svg")]
    profiler = subprocess.Popen(spy_cmd, stdout=subprocess.DEVNULL)  # noqa: S603
    time.sleep(1)
    _wrk(server.base_url, script, path, sessions, server, f"{seconds - 2}s")
    profiler.wait(timeout=60)
    summary = summarize(raw)
    (OUT / f"{name}-profile.json").write_text(json.dumps(summary, indent=2))
    print(f"py-spy profile of the product's {call}: {raw} ({summary['samples']} samples)")
    for name, pct in summary["by_module_self"].items():
        print(f"  {name:<28} {pct:5.1f}% of samples (self)")
    return summary


# --- the table -------------------------------------------------------------------------------


def _table(rows: dict[str, dict[str, dict[str, Any]]]) -> str:
    head = (
        "| call | floor calls/s | floor p50 ms | floor p99 ms | floor non-2xx "
        "| product calls/s | product p50 ms | product p99 ms | product non-2xx "
        "| product / floor |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )
    lines = []
    for call, pair in rows.items():
        floor, product = pair["floor"], pair["product"]
        ratio = product["calls_per_s"] / floor["calls_per_s"] if floor["calls_per_s"] else 0.0
        pair["ratio"] = round(ratio, 3)
        lines.append(
            f"| {call} | {floor['calls_per_s']:,.0f} | {floor['p50_ms']:.1f} "
            f"| {floor['p99_ms']:.1f} | {floor['non2xx']} | {product['calls_per_s']:,.0f} "
            f"| {product['p50_ms']:.1f} | {product['p99_ms']:.1f} | {product['non2xx']} "
            f"| **{ratio:.3f}** |"
        )
    return head + "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make bench` installs it (apt-get install wrk)")
    OUT.mkdir(parents=True, exist_ok=True)
    calls = [SHORT[name] for name in args.calls]
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    started = datetime.now(UTC)
    with managed_server(port=args.port, workers=1, extra_env=BENCH_ENV, quiet=False) as server:
        floor = _start_floor(server, args.port + 1)
        floor_url = f"http://127.0.0.1:{args.port + 1}"
        try:
            print(f"product {server.base_url} (pid {server.process.pid}), floor {floor_url}")
            visitors = asyncio.run(_prepare_visitors(server, args.sessions))
            print(f"{len(visitors)} visitors bootstrapped, each with a conversation", flush=True)
            for n, call in enumerate(calls):
                asyncio.run(_vacuum_analyze(server.env["DATABASE_URL"]))
                newest = asyncio.run(_newest_ids(server.env["DATABASE_URL"]))
                after = CALLS[call][2]
                files = {
                    t: _sessions_file(t, visitors, newest, after) for t in ("floor", "product")
                }
                wait = QUIET_WAIT if n == 0 else min(QUIET_WAIT, 60.0)
                busy = wait_for_quiet(QUIET_BELOW, wait) if wait > 0 else float("nan")
                print(f"{call}: machine {busy:.0f}% busy before (<= {QUIET_BELOW:.0f}% wanted)")
                rows[call] = {
                    "floor": _measure("floor", floor_url, call, files["floor"], server, [floor.pid]),
                    "product": _measure(
                        "product", server.base_url, call, files["product"], server,
                        server.worker_pids(),
                    ),
                }  # fmt: skip
                rows[call]["busy_before"] = {"machine_busy_percent": round(busy, 1)}
            profile = None
            if args.profile:
                newest = asyncio.run(_newest_ids(server.env["DATABASE_URL"]))
                script_call = SHORT[args.profile_call]
                profile = _profile(
                    server,
                    _sessions_file("product", visitors, newest, CALLS[script_call][2]),
                    12,
                    script_call,
                )
        finally:
            floor.send_signal(2)
            floor.wait(timeout=20)
    table = _table(rows)
    bad = {f"{call} / {target}": rows[call][target]["non2xx"] for call in rows
           for target in ("floor", "product") if rows[call][target]["non2xx"]}  # fmt: skip
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    header = (
        f"`make bench` on {started:%Y-%m-%d %H:%M} UTC: wrk {THREADS} threads x {CONNECTIONS} "
        f"connections, {DURATION} per call after a {WARMUP} warm-up, {args.sessions} visitors, "
        f"one worker each\n\n"
    )
    markdown = header + table
    if bad:
        markdown += f"\n**NON-2xx RESPONSES: {bad}. These figures are not valid.**\n"
    result = {"started": started.isoformat(), "threads": THREADS, "connections": CONNECTIONS,
              "duration": DURATION, "sessions": args.sessions, "rows": rows,
              "profile": profile, "non2xx": bad}  # fmt: skip
    for name in (f"bench-{stamp}", "latest"):
        (OUT / f"{name}.json").write_text(json.dumps(result, indent=2))
        (OUT / f"{name}.md").write_text(markdown)
    print()
    print(markdown)
    print(f"written: {OUT / f'bench-{stamp}.md'} and .json")
    if bad:
        print("!" * 78)
        print(f"!!! NON-2xx RESPONSES: {bad}")
        print("!!! The product or the floor refused or failed requests; see the server logs:")
        print(f"!!! {server.log_path} and {OUT}/floor-{args.port + 1}.log")
        print("!" * 78)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", nargs="+", choices=list(SHORT), default=list(SHORT))
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOAD_PORT", "8765")))
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the product's send after the table"
    )
    parser.add_argument(
        "--profile-call",
        choices=["send", "poll-none", "poll-one"],
        default="send",
        help="the call --profile records (default: send)",
    )
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
