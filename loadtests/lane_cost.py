"""CPU per call of the widget's send and poll in-process: the fast lane against the full
Litestar stack, interleaved in one process on the same database, so machine noise hits both.

The app is called as an ASGI app (no socket, no uvicorn, no client): what is timed is this
process's CPU (``time.process_time``) per call — the app, its middlewares or the fast lane,
and the client side of asyncpg and redis-py; PostgreSQL's and Redis's own work is not in it.
A poll with one more query parameter and a send declaring ``charset=utf-8`` are served by
the full stack (messenger/widget/fastlane.py hands them over); the others by the fast lane.

    LOAD_DB_NAME=messenger_lane LOAD_REDIS_PREFIX=lane flock /tmp/bench.lock \\
        .venv/bin/python loadtests/lane_cost.py [--calls 300] [--rounds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import statistics
import sys
import time
import uuid
from typing import Any

import msgspec

os.environ.setdefault("LOAD_DB_NAME", "messenger_lane")
os.environ.setdefault("LOAD_REDIS_PREFIX", "lane")

from bench import BENCH_ENV
from harness import Seed, cleanup, prepare, server_env

PORT = 8799  # only names the public URL: nothing listens
VISITORS = 50


async def _call(
    app: Any,
    method: str,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    path: str = "/api/widget/messages",
    answer: list[bytes] | None = None,
    started: list[dict[str, Any]] | None = None,
) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", PORT),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            if started is not None:
                started.append(message)
        elif answer is not None:
            answer.append(message.get("body", b""))

    await app(scope, receive, send)
    return status


async def run(seed: Seed, calls: int, rounds: int) -> dict[str, dict[str, float]]:
    from messenger.app import create_app
    from messenger.config import Settings

    settings = Settings.from_env({**server_env(PORT), **BENCH_ENV})
    logging.getLogger("messenger.access").disabled = False
    app = create_app(settings)
    origin = f"http://127.0.0.1:{PORT}"  # the demo inbox allows 127.0.0.1 on any port
    results: dict[str, dict[str, list[float]]] = {}
    async with app.lifespan():
        json_headers = [(b"origin", origin.encode()), (b"content-type", b"application/json")]
        boot_body = msgspec.json.encode({"widget_token": seed.widget_token})
        # Several visitors taken in turn: one session is polled again only after the others
        # (the minimum poll interval, 1 ms here, would refuse a session polled back to back).
        visitors: list[tuple[list[tuple[bytes, bytes]], int]] = []
        for _ in range(VISITORS):
            answer: list[bytes] = []
            status = await _call(
                app,
                "POST",
                b"",
                [*json_headers, (b"content-length", str(len(boot_body)).encode())],
                boot_body,
                "/api/widget/bootstrap",
                answer,
            )
            assert status == 200, answer
            token = msgspec.json.decode(b"".join(answer))["session_token"]
            auth = [(b"origin", origin.encode()), (b"authorization", f"Bearer {token}".encode())]
            first_body = b'{"body": "hello", "client_msg_id": "first"}'
            answer = []
            status = await _call(
                app,
                "POST",
                b"",
                [
                    *auth,
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(first_body)).encode()),
                ],
                first_body,
                answer=answer,
            )
            assert status == 201, answer
            visitors.append((auth, msgspec.json.decode(b"".join(answer))["id"]))
        turn = itertools.cycle(visitors)

        def send_args(kind: str) -> tuple[str, bytes, list[tuple[bytes, bytes]], bytes]:
            body = f'{{"body": "hi", "client_msg_id": "{uuid.uuid4().hex}"}}'.encode()
            content_type = b"application/json" + (b"; charset=utf-8" if kind == "full" else b"")
            auth, _ = next(turn)
            headers = [
                *auth,
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ]
            return "POST", b"", headers, body

        def poll_args(kind: str) -> tuple[str, bytes, list[tuple[bytes, bytes]], bytes]:
            auth, newest = next(turn)
            query = f"after={newest}".encode() + (b"&via=full" if kind == "full" else b"")
            return "GET", query, auth, b""

        for _ in range(rounds):
            for call, args in (("poll", poll_args), ("send", send_args)):
                for kind in ("fast", "full"):
                    prepared = [args(kind) for _ in range(calls)]
                    started = time.process_time()
                    for method, query, headers, body in prepared:
                        status = await _call(app, method, query, headers, body)
                        assert status in {200, 201}, (call, kind, status)
                    spent = (time.process_time() - started) / calls
                    results.setdefault(call, {}).setdefault(kind, []).append(spent * 1e6)
    return {
        call: {kind: statistics.median(values) for kind, values in kinds.items()}
        for call, kinds in results.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per block")
    parser.add_argument("--rounds", type=int, default=8, help="blocks per call and path")
    args = parser.parse_args()
    # The access lines go where a server's go (a file here): their cost is part of a call.
    handler = logging.FileHandler(os.environ.get("LANE_LOG", os.devnull))
    from messenger.logs import JsonFormatter

    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    seed = prepare(PORT)
    try:
        results = asyncio.run(run(seed, args.calls, args.rounds))
    finally:
        cleanup()
    print(f"CPU of this process per call, µs (median of {args.rounds} blocks of {args.calls}):")
    for call, kinds in results.items():
        fast, full = kinds["fast"], kinds["full"]
        print(f"  {call:<5} full stack {full:7.0f}  fast lane {fast:7.0f}  ({fast / full:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
