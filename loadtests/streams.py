"""Many open SSE streams against one server process: its memory, and that it stays bounded.

Starts ``messenger serve --workers 1`` (one process, so its RSS is the whole story), then,
for each round, K new visitors each bootstrap, send a first message (a new conversation)
and open ``GET /api/widget/stream``; with all K open it reads the server's VmRSS
(``/proc/<pid>/status``), the open-streams gauge of ``/metrics`` and the latency of
``/ready``; then closes every stream and reads them again. Each round uses new visitors,
so the RSS after round N shows whether memory grows with the number of conversations ever
streamed.

    python loadtests/streams.py                   # 2000 streams, 3 rounds
    python loadtests/streams.py --streams 500 --rounds 2 --json var/load/streams.json

Bounded: a fixed number of visitors per round, a deadline for the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from delivery import run_fast
from harness import managed_server, rss_kib
from monitor import Monitor, describe
from sse import events, summary

#: Descriptors this process needs besides the streams (the API client, files, Redis...).
FD_MARGIN = 200


def raise_fd_limit(wanted: int) -> tuple[int, int]:
    """Raise the soft limit on open files towards ``wanted`` (the server inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


@dataclass
class Stream:
    response: httpx.Response | None = None
    context: Any = None
    reader: asyncio.Task[None] | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    error: str | None = None


class StreamsBench:
    def __init__(self, args: argparse.Namespace, base_url: str, token: str, pid: int) -> None:
        self.args = args
        self.base_url = base_url
        self.token = token
        self.pid = pid
        self.api = httpx.AsyncClient(
            base_url=base_url,
            limits=httpx.Limits(max_connections=args.concurrency + 10),
            timeout=httpx.Timeout(30.0),
        )
        self.streams_client = httpx.AsyncClient(
            base_url=base_url,
            limits=httpx.Limits(max_connections=args.streams + 10, max_keepalive_connections=0),
            timeout=httpx.Timeout(30.0, read=None),
        )
        self.origin = base_url

    async def open_one(self, index: int, round_no: int) -> Stream:
        stream = Stream()
        headers = {"Origin": self.origin}
        try:
            response = await self.api.post(
                "/api/widget/bootstrap",
                json={"widget_token": self.token, "page_url": f"{self.origin}/r{round_no}/{index}"},
                headers=headers,
            )
            response.raise_for_status()
            data = response.json()
            after = 0
            if self.args.send:
                response = await self.api.post(
                    "/api/widget/messages",
                    json={
                        "body": f"round {round_no} visitor {index}",
                        "client_msg_id": uuid.uuid4().hex,
                    },
                    headers={**headers, "Authorization": f"Bearer {data['session_token']}"},
                )
                response.raise_for_status()
                after = response.json()["id"]
            stream.context = self.streams_client.stream(
                "GET",
                "/api/widget/stream",
                params={"ticket": data["stream_ticket"], "last_event_id": after},
                headers=headers,
            )
            stream.response = await stream.context.__aenter__()
            if stream.response.status_code != 200:
                stream.error = f"status {stream.response.status_code}"
                return stream
            stream.reader = asyncio.create_task(self.read(stream))
            await asyncio.wait_for(stream.connected.wait(), 30)
        except (httpx.HTTPError, TimeoutError) as exc:
            stream.error = type(exc).__name__
        return stream

    async def read(self, stream: Stream) -> None:
        assert stream.response is not None
        with contextlib.suppress(httpx.HTTPError):
            async for item in events(stream.response):
                if "connected" in item.comments:
                    stream.connected.set()
        stream.error = stream.error or "ended"

    async def close(self, stream: Stream) -> None:
        if stream.reader is not None:
            stream.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await stream.reader
        if stream.context is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stream.context.__aexit__(None, None, None), 10)

    async def metrics_open_streams(self) -> float | None:
        try:
            response = await self.api.get("/metrics")
        except httpx.HTTPError:
            return None
        match = re.search(
            r'^messenger_open_streams\{audience="visitor"\} (\S+)$', response.text, re.M
        )
        return float(match.group(1)) if match else None

    async def ready_latencies(self, count: int = 5) -> tuple[list[int], list[float]]:
        statuses, latencies = [], []
        for _ in range(count):
            start = time.perf_counter()
            try:
                response = await self.api.get("/ready")
                statuses.append(response.status_code)
            except httpx.HTTPError:
                statuses.append(0)
            latencies.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.2)
        return statuses, latencies

    def signal_snapshot(self) -> None:
        """``--snapshot-signal``: ask the server for a memory snapshot (SIGUSR1), e.g. a
        ``sitecustomize`` passed with ``--env PYTHONPATH=…`` that dumps tracemalloc."""
        if self.args.snapshot_signal:
            os.kill(self.pid, signal.SIGUSR1)
            time.sleep(3)  # the dump blocks the server's loop meanwhile

    async def settle(self, seconds: float) -> int:
        """Wait, then read RSS (a few samples, the last one)."""
        await asyncio.sleep(seconds)
        return rss_kib(self.pid)

    async def round(self, round_no: int) -> dict[str, Any]:
        k = self.args.streams
        limit = asyncio.Semaphore(self.args.concurrency)

        async def guarded(index: int) -> Stream:
            async with limit:
                return await self.open_one(index, round_no)

        rss_before = rss_kib(self.pid)
        self.signal_snapshot()
        monitor = Monitor([self.pid]).start()
        started = time.perf_counter()
        streams = await asyncio.gather(*(guarded(i) for i in range(k)))
        open_seconds = time.perf_counter() - started
        opened = [s for s in streams if s.error is None]
        errors: dict[str, int] = {}
        for s in streams:
            if s.error is not None:
                errors[s.error] = errors.get(s.error, 0) + 1
        # Past the streams' one-off catch-up read (2 s) and one heartbeat.
        rss_open = await self.settle(self.args.hold)
        self.signal_snapshot()
        gauge_open = await self.metrics_open_streams()
        ready_open, ready_open_ms = await self.ready_latencies()
        still_open = sum(1 for s in opened if s.error is None)
        started = time.perf_counter()
        await asyncio.gather(*(self.close(s) for s in streams))
        close_seconds = time.perf_counter() - started
        rss_closed = await self.settle(self.args.hold)
        machine = monitor.stop()
        gauge_closed = await self.metrics_open_streams()
        ready_closed, ready_closed_ms = await self.ready_latencies()
        result = {
            "round": round_no,
            "streams_requested": k,
            "streams_open": len(opened),
            "still_open_after_hold": still_open,
            "errors": errors,
            "open_seconds": round(open_seconds, 1),
            "close_seconds": round(close_seconds, 1),
            "rss_before_mib": round(rss_before / 1024, 1),
            "rss_all_open_mib": round(rss_open / 1024, 1),
            "rss_after_close_mib": round(rss_closed / 1024, 1),
            "kib_per_open_stream": round((rss_open - rss_before) / max(len(opened), 1), 1),
            "server_gauge_open": gauge_open,
            "server_gauge_after_close": gauge_closed,
            "ready_while_open": {"statuses": ready_open, "ms": summary(ready_open_ms)},
            "ready_after_close": {"statuses": ready_closed, "ms": summary(ready_closed_ms)},
            "machine_summary": describe(machine),
        }
        print(json.dumps(result), flush=True)
        return result

    async def run(self) -> dict[str, Any]:
        rss_start = rss_kib(self.pid)
        rounds = []
        for n in range(1, self.args.rounds + 1):
            rounds.append(await self.round(n))
        await self.api.aclose()
        await self.streams_client.aclose()
        return {"rss_at_start_mib": round(rss_start / 1024, 1), "rounds": rounds}


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"RSS of the server process at start (after /ready): {result['rss_at_start_mib']} MiB",
        "",
        "| round | streams open | RSS before | RSS all open | per stream | RSS after close "
        "| /ready while open (p50 / max) | /ready after | gauge open / after |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for r in result["rounds"]:
        ro, rc = r["ready_while_open"], r["ready_after_close"]
        lines.append(
            f"| {r['round']} | {r['streams_open']}/{r['streams_requested']} "
            f"| {r['rss_before_mib']} MiB | {r['rss_all_open_mib']} MiB "
            f"| {r['kib_per_open_stream']} KiB | {r['rss_after_close_mib']} MiB "
            f"| {sorted(set(ro['statuses']))} {ro['ms']['p50']:.0f} / {ro['ms']['max']:.0f} ms "
            f"| {sorted(set(rc['statuses']))} {rc['ms']['p50']:.0f} / {rc['ms']['max']:.0f} ms "
            f"| {r['server_gauge_open']} / {r['server_gauge_after_close']} |"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=2000, help="K streams per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of K new visitors")
    parser.add_argument("--concurrency", type=int, default=50, help="visitors set up at once")
    parser.add_argument(
        "--hold", type=float, default=20.0, help="s to wait before reading RSS (past a heartbeat)"
    )
    parser.add_argument(
        "--no-send",
        dest="send",
        action="store_false",
        help="open streams without a first message (no conversation rows)",
    )
    parser.add_argument("--timeout", type=float, default=1500.0, help="deadline of the whole run")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOAD_PORT", "8765")))
    parser.add_argument("--json", dest="json_path", help="also write the results here")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra server setting"
    )
    parser.add_argument(
        "--snapshot-signal",
        action="store_true",
        help="send the server SIGUSR1 before opening and with all streams open",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    soft, hard = raise_fd_limit(2 * args.streams + FD_MARGIN)
    if soft != resource.RLIM_INFINITY and soft < 2 * args.streams + FD_MARGIN:
        print(f"open-files limit {soft} (hard {hard}) is too low for {args.streams} streams")
        return 2
    # One client IP opens every stream here: lift the per-IP cap of open streams.
    extra = {"MESSENGER_WIDGET_STREAMS_PER_IP": str(2 * args.streams)}
    extra.update(item.split("=", 1) for item in args.env)
    with managed_server(port=args.port, workers=1, extra_env=extra) as server:
        bench = StreamsBench(args, server.base_url, server.seed.widget_token, server.process.pid)
        result = run_fast(asyncio.wait_for(bench.run(), args.timeout))
    result["open_files_limit"] = soft
    result["streams_per_round"] = args.streams
    result["first_message"] = args.send
    table = markdown(result)
    print(json.dumps(result, indent=2))
    print(table)
    if args.json_path:
        with open(args.json_path, "w") as out:
            json.dump({**result, "markdown": table}, out, indent=2)
    failed = any(r["streams_open"] < r["streams_requested"] for r in result["rounds"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
