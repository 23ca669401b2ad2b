"""The cost of one Widget API call: server CPU milliseconds per call, one call at a time.

Latency under load depends on everything else the machine runs; the CPU one call costs the
server process does not, so this is the figure to compare between versions. It starts
``messenger serve --workers 1``, makes N sequential calls of each kind from one visitor at a
time, and divides the server process's CPU time (``/proc/<pid>/stat``) by the calls.

    python loadtests/cost.py                      # 300 calls of each kind
    python loadtests/cost.py --calls 500 --json var/load/cost.json

Bounded: a fixed number of calls, a deadline for the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from harness import managed_server
from sse import process_cpu_seconds, summary

VISITORS = 20  # calls rotate over these, so that poll's minimum interval never refuses


async def measure(
    pid: int,
    calls: int,
    make_call: Callable[[int], Awaitable[httpx.Response]],
    expect: int,
    pause: Callable[[int], float] | None = None,
) -> dict[str, Any]:
    latencies = []
    failures = 0
    cpu_before = process_cpu_seconds(pid)
    for n in range(calls):
        if pause is not None and (seconds := pause(n)):
            await asyncio.sleep(seconds)
        started = time.perf_counter()
        response = await make_call(n)
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != expect:
            failures += 1
    cpu = process_cpu_seconds(pid) - cpu_before
    return {
        "calls": calls,
        "failures": failures,
        "server_cpu_ms_per_call": round(1000 * cpu / calls, 2),
        "latency_ms": summary(latencies),
    }


async def run(args: argparse.Namespace, base_url: str, token: str, pid: int) -> dict[str, Any]:
    origin = {"Origin": base_url}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        sessions: list[str] = []
        last_ids: list[int] = []

        def auth(n: int) -> dict[str, str]:
            return {**origin, "Authorization": f"Bearer {sessions[n % VISITORS]}"}

        for _ in range(VISITORS):
            response = await client.post(
                "/api/widget/bootstrap", json={"widget_token": token}, headers=origin
            )
            sessions.append(response.json()["session_token"])
        for n in range(VISITORS):
            response = await client.post(
                "/api/widget/messages",
                json={"body": "first", "client_msg_id": uuid.uuid4().hex},
                headers=auth(n),
            )
            last_ids.append(response.json()["id"])
        # warm-up: every code path once per visitor
        for n in range(VISITORS):
            await client.get(f"/api/widget/messages?after={last_ids[n]}", headers=auth(n))
        await asyncio.sleep(args.poll_gap)

        def poll_pause(n: int) -> float:
            # past the per-session minimum poll interval (not timed)
            return args.poll_gap if n and n % VISITORS == 0 else 0.0

        async def poll(n: int) -> httpx.Response:
            return await client.get(
                f"/api/widget/messages?after={last_ids[n % VISITORS]}", headers=auth(n)
            )

        async def newcomer(n: int) -> httpx.Response:
            """A new visitor's bootstrap and first message (both timed and counted)."""
            started = await client.post(
                "/api/widget/bootstrap", json={"widget_token": token}, headers=origin
            )
            bearer = {**origin, "Authorization": f"Bearer {started.json()['session_token']}"}
            return await client.post(
                "/api/widget/messages",
                json={"body": f"first {n}", "client_msg_id": uuid.uuid4().hex},
                headers=bearer,
            )

        kinds: dict[str, tuple[Callable[[int], Awaitable[httpx.Response]], int]] = {
            "new visitor: bootstrap + first send": (newcomer, 201),
            "bootstrap (new visitor)": (
                lambda n: client.post(
                    "/api/widget/bootstrap", json={"widget_token": token}, headers=origin
                ),
                200,
            ),
            "bootstrap (returning visitor)": (
                lambda n: client.post(
                    "/api/widget/bootstrap",
                    json={"widget_token": token, "session_token": sessions[n % VISITORS]},
                    headers=origin,
                ),
                200,
            ),
            "send": (
                lambda n: client.post(
                    "/api/widget/messages",
                    json={"body": f"message {n}", "client_msg_id": uuid.uuid4().hex},
                    headers=auth(n),
                ),
                201,
            ),
            "poll (nothing new)": (poll, 200),
            "typing": (
                lambda n: client.post(
                    "/api/widget/typing", json={"typing": n % 2 == 0}, headers=auth(n)
                ),
                204,
            ),
            "read": (
                lambda n: client.post(
                    "/api/widget/read", json={"up_to_id": last_ids[n % VISITORS]}, headers=auth(n)
                ),
                200,
            ),
            "ticket": (lambda n: client.post("/api/widget/stream/ticket", headers=auth(n)), 201),
            "/health (no database)": (lambda n: client.get("/health"), 200),
        }
        results = {}
        for name, (call, expect) in kinds.items():
            pause = poll_pause if call is poll else None
            results[name] = await measure(pid, args.calls, call, expect, pause)
            print(name, json.dumps(results[name]), flush=True)
    return results


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| call | server CPU ms per call | latency p50 ms | p95 ms | failures |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['server_cpu_ms_per_call']:.1f} | {r['latency_ms']['p50']:.1f} "
            f"| {r['latency_ms']['p95']:.1f} | {r['failures']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="calls of each kind")
    parser.add_argument("--poll-gap", type=float, default=0.6, help="s between a visitor's polls")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOAD_PORT", "8765")))
    parser.add_argument("--json", dest="json_path")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra server setting"
    )
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    with managed_server(port=args.port, workers=1, extra_env=extra) as server:
        results = asyncio.run(
            asyncio.wait_for(
                run(args, server.base_url, server.seed.widget_token, server.process.pid),
                args.timeout,
            )
        )
    table = markdown(results)
    print(table)
    if args.json_path:
        with open(args.json_path, "w") as out:
            json.dump({"results": results, "markdown": table}, out, indent=2)
    return 1 if any(r["failures"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
