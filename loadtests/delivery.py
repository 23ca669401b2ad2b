"""Delivery latency: operator reply → ``message`` event on the visitor's SSE stream.

N visitors (default 200) bootstrap, send a first message and open their stream. Then an
operator process acts as one more app process on the staff side — the app's own
``ConversationService.reply`` in a ``transaction`` (commit, then ``Publisher``) on ``Backends.from_settings``, publishing through Redis
— and replies to random visitors at a fixed rate, noting the time just before each reply
call. This process, which holds the streams, notes when each reply's ``message`` event
arrives. Meanwhile a third process keeps every visitor using the Widget API (polls, sends,
re-bootstraps of a page change) and times those calls.

Three processes, so that no measuring event loop is slowed by another's work: an asyncio
loop running hundreds of tasks adds its own delay to every await of a timed call. The
processes share the machine's monotonic clock (``time.monotonic``), so a start noted in one
and an arrival noted in another subtract correctly.

    python loadtests/delivery.py                       # starts its own server (2 workers)
    python loadtests/delivery.py --visitors 200 --replies 1000 --rate 20 --json out.json

Bounded: a fixed number of replies, a deadline for the whole run (``--timeout``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import resource
import sys
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, TypeVar

import httpx
from harness import apply_env, managed_server
from monitor import Monitor, describe
from sse import events, summary, table

CONNECT_TIMEOUT = 30.0
T = TypeVar("T")


def run_fast(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when it is there (it is, with uvicorn[standard]): the load
    generators then spend less of the shared CPU on themselves."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _client(base_url: str, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=httpx.Timeout(CONNECT_TIMEOUT),
    )


# --- the visitors' streams (this process) -------------------------------------------------


@dataclass
class Visitor:
    index: int
    session_token: str = ""
    ticket: str = ""
    first_id: int = 0
    conversation_id: str = ""
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    stream_error: str | None = None


class Streams:
    def __init__(self, args: argparse.Namespace, base_url: str, token: str) -> None:
        self.args = args
        self.token = token
        self.origin = base_url
        self.client = _client(base_url, args.visitors * 2 + 50)
        self.visitors = [Visitor(i) for i in range(args.visitors)]
        self.setup: dict[str, list[float]] = {"bootstrap (new)": [], "send (first)": []}
        self.setup_errors: dict[str, int] = {}
        self.arrivals: dict[str, float] = {}  # reply body → monotonic arrival time
        self.duplicates = 0

    def headers(self, visitor: Visitor | None = None) -> dict[str, str]:
        headers = {"Origin": self.origin, "Accept-Language": "ru-RU"}
        if visitor is not None:
            headers["Authorization"] = f"Bearer {visitor.session_token}"
        return headers

    async def _timed(self, name: str, method: str, url: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            key = f"{name} {type(exc).__name__}"
            self.setup_errors[key] = 1 + self.setup_errors.get(key, 0)
            return None
        if response.status_code >= 400:
            key = f"{name} {response.status_code}"
            self.setup_errors[key] = 1 + self.setup_errors.get(key, 0)
            return None
        self.setup[name].append((time.perf_counter() - started) * 1000)
        return response.json()

    async def start_visitor(self, visitor: Visitor) -> None:
        data = await self._timed(
            "bootstrap (new)",
            "POST",
            "/api/widget/bootstrap",
            json={"widget_token": self.token, "page_url": f"{self.origin}/p/{visitor.index}"},
            headers=self.headers(),
        )
        if data is None:
            return
        visitor.session_token = data["session_token"]
        visitor.ticket = data["stream_ticket"]
        message = await self._timed(
            "send (first)",
            "POST",
            "/api/widget/messages",
            json={"body": f"hello from {visitor.index}", "client_msg_id": uuid.uuid4().hex},
            headers=self.headers(visitor),
        )
        if message is None:
            return
        visitor.first_id = message["id"]
        visitor.conversation_id = message["conversation_id"]
        visitor.task = asyncio.create_task(self.stream(visitor))

    async def stream(self, visitor: Visitor) -> None:
        params = {"ticket": visitor.ticket, "last_event_id": visitor.first_id}
        try:
            async with self.client.stream(
                "GET",
                "/api/widget/stream",
                params=params,
                headers=self.headers(),
                timeout=httpx.Timeout(CONNECT_TIMEOUT, read=None),
            ) as response:
                if response.status_code != 200:
                    visitor.stream_error = f"status {response.status_code}"
                    return
                async for item in events(response):
                    if "connected" in item.comments:
                        visitor.connected.set()
                    if item.event != "message" or item.data is None:
                        continue
                    arrived = time.monotonic()
                    body = json.loads(item.data).get("body", "")
                    if body.startswith("reply "):
                        if body in self.arrivals:
                            self.duplicates += 1
                        else:
                            self.arrivals[body] = arrived
        except httpx.HTTPError as exc:
            visitor.stream_error = type(exc).__name__
        finally:
            visitor.connected.set()  # never leave the setup waiting

    async def open_all(self) -> int:
        batch = self.args.setup_concurrency
        for i in range(0, len(self.visitors), batch):
            await asyncio.gather(*(self.start_visitor(v) for v in self.visitors[i : i + batch]))
        waiting = [v.connected.wait() for v in self.visitors if v.task]
        await asyncio.wait_for(asyncio.gather(*waiting), 60)
        return sum(1 for v in self.live())

    def live(self) -> list[Visitor]:
        return [v for v in self.visitors if v.task and v.connected.is_set() and not v.stream_error]

    async def close(self) -> None:
        for visitor in self.visitors:
            if visitor.task:
                visitor.task.cancel()
        await asyncio.gather(*(v.task for v in self.visitors if v.task), return_exceptions=True)
        await self.client.aclose()


# --- the operator (another process) -------------------------------------------------------


def operator_main(conn: Connection, plan: list[tuple[str, str]], options: dict[str, Any]) -> None:
    """Reply ``plan`` (conversation id, body) on schedule; send back the start times."""
    apply_env(options["port"])
    result = run_fast(_operator(plan, options))
    conn.send({**result, "cpu_seconds": _own_cpu()})
    conn.close()


async def _operator(plan: list[tuple[str, str]], options: dict[str, Any]) -> dict[str, Any]:
    from sqlalchemy import select

    from messenger.attachments.links import AttachmentLinks
    from messenger.backends import Backends
    from messenger.config import Settings
    from messenger.conversations.service import ConversationService
    from messenger.db import alchemy_config
    from messenger.db.models import Conversation, User
    from messenger.realtime.publisher import Publisher
    from messenger.realtime.transaction import transaction

    settings = Settings.from_env()
    backends = Backends.from_settings(settings)
    config = alchemy_config(settings)
    publisher = Publisher(
        backends.channels, settings.redis_prefix, AttachmentLinks(settings.require_secret_key())
    )
    starts: dict[str, float] = {}
    calls: list[float] = []
    failures: list[str] = []
    limit = asyncio.Semaphore(options["reply_concurrency"])
    async with config.get_session() as db:
        operator_id = await db.scalar(select(User.id).where(User.email == options["operator"]))

    async def reply(conversation_id: str, body: str) -> None:
        async with limit:
            started = 0.0
            # One unit of work per reply, as a request runs it: commit, then publish.
            async with transaction(config.get_session, publisher) as db:
                conversation = await db.get(Conversation, uuid.UUID(conversation_id))
                author = await db.get(User, operator_id)
                assert conversation is not None
                assert author is not None
                starts[body] = started = time.monotonic()
                await ConversationService(session=db).reply(conversation, author, body)
            calls.append((time.monotonic() - started) * 1000)

    try:
        async with backends.channels:
            tasks = []
            interval = 1.0 / options["rate"]
            began = time.monotonic()
            for n, (conversation_id, body) in enumerate(plan):
                # open loop: replies go out on schedule, whether earlier ones finished or not
                delay = began + n * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(reply(conversation_id, body)))
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    failures.append(repr(outcome))
            sending_seconds = time.monotonic() - began
    finally:
        await backends.close()
        await config.get_engine().dispose()
    return {
        "starts": starts,
        "reply_call_ms": calls,
        "failures": failures[:5],
        "failed": len(failures),
        "sending_seconds": sending_seconds,
    }


# --- the visitors' API calls (another process) --------------------------------------------


def api_load_main(
    conn: Connection, visitors: list[tuple[str, int]], stop_at: float, options: dict[str, Any]
) -> None:
    """Every visitor polls, sends and re-bootstraps until ``stop_at`` (monotonic)."""
    result = run_fast(_api_load(visitors, stop_at, options))
    conn.send({**result, "cpu_seconds": _own_cpu()})
    conn.close()


async def _api_load(
    visitors: list[tuple[str, int]], stop_at: float, options: dict[str, Any]
) -> dict[str, Any]:
    base_url, token = options["base_url"], options["token"]
    latencies: dict[str, list[float]] = {"bootstrap (restore)": [], "send": [], "poll": []}
    errors: dict[str, int] = {}
    client = _client(base_url, len(visitors) + 10)
    origin = {"Origin": base_url, "Accept-Language": "ru-RU"}

    async def timed(name: str, method: str, url: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            key = f"{name} {type(exc).__name__}"
            errors[key] = errors.get(key, 0) + 1
            return None
        if response.status_code >= 400:
            key = f"{name} {response.status_code}"
            errors[key] = errors.get(key, 0) + 1
            return None
        latencies[name].append((time.perf_counter() - started) * 1000)
        return response.json()

    async def visitor(index: int, session_token: str, last_id: int) -> None:
        rng = random.Random(index)
        auth = {**origin, "Authorization": f"Bearer {session_token}"}
        await asyncio.sleep(rng.uniform(0, options["think_max"]))
        while time.monotonic() < stop_at:
            roll = rng.random()
            if roll < 0.6:
                data = await timed(
                    "poll", "GET", "/api/widget/messages", params={"after": last_id}, headers=auth
                )
                if data is not None:
                    last_id = max([last_id, *(m["id"] for m in data["messages"])])
            elif roll < 0.85:
                await timed(
                    "send",
                    "POST",
                    "/api/widget/messages",
                    json={"body": "and another thing", "client_msg_id": uuid.uuid4().hex},
                    headers=auth,
                )
            else:
                await timed(
                    "bootstrap (restore)",
                    "POST",
                    "/api/widget/bootstrap",
                    json={"widget_token": token, "session_token": session_token},
                    headers=origin,
                )
            pause = rng.uniform(options["think_min"], options["think_max"])
            await asyncio.sleep(max(0.0, min(pause, stop_at - time.monotonic())))

    await asyncio.gather(*(visitor(i, s, last) for i, (s, last) in enumerate(visitors)))
    await client.aclose()
    return {"latencies": latencies, "errors": errors}


# --- the run ------------------------------------------------------------------------------


async def run(
    args: argparse.Namespace, base_url: str, token: str, server_pids: list[int]
) -> dict[str, Any]:
    streams = Streams(args, base_url, token)
    setup_start = time.perf_counter()
    opened = await streams.open_all()
    print(f"{opened} streams open after {time.perf_counter() - setup_start:.1f} s", flush=True)
    await asyncio.sleep(3)  # past the streams' one-off catch-up read (2 s after subscribing)

    live = streams.live()
    rng = random.Random(1)
    plan = []
    for n in range(args.replies):
        target = rng.choice(live)
        plan.append((target.conversation_id, f"reply {n} to {target.index}"))
    context = multiprocessing.get_context("spawn")
    options = {
        "port": args.port,
        "rate": args.rate,
        "reply_concurrency": args.reply_concurrency,
        "operator": args.operator,
        "base_url": base_url,
        "token": token,
        "think_min": args.think_min,
        "think_max": args.think_max,
    }
    expected_seconds = args.replies / args.rate
    stop_at = time.monotonic() + expected_seconds + 2
    operator_end, operator_conn = context.Pipe(duplex=False)
    api_end, api_conn = context.Pipe(duplex=False)
    monitor = Monitor(server_pids).start()
    own_cpu_before = _own_cpu()
    api = context.Process(
        target=api_load_main,
        args=(api_conn, [(v.session_token, v.first_id) for v in live], stop_at, options),
    )
    operator = context.Process(target=operator_main, args=(operator_conn, plan, options))
    api.start()
    operator.start()
    loop = asyncio.get_running_loop()
    deadline = expected_seconds * 3 + 60
    operator_result = await asyncio.wait_for(
        loop.run_in_executor(None, operator_end.recv), deadline
    )
    # wait (bounded) for the last replies to arrive
    grace_until = time.monotonic() + args.grace
    expected = len(operator_result["starts"])
    # the arrivals dict is filled by the stream tasks: poll it (bounded)
    while time.monotonic() < grace_until and len(streams.arrivals) < expected:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    api_result = await asyncio.wait_for(loop.run_in_executor(None, api_end.recv), deadline)
    machine = monitor.stop()
    phase_seconds = expected_seconds + 2
    machine["load_processes_cpu_percent_of_one_core"] = {
        "streams (this process)": round(100 * (_own_cpu() - own_cpu_before) / phase_seconds, 1),
        "operator": round(100 * operator_result["cpu_seconds"] / phase_seconds, 1),
        "visitors' API calls": round(100 * api_result["cpu_seconds"] / phase_seconds, 1),
    }
    operator.join(10)
    api.join(10)
    await streams.close()

    starts: dict[str, float] = operator_result["starts"]
    delivery = [
        (streams.arrivals[body] - started) * 1000
        for body, started in starts.items()
        if body in streams.arrivals
    ]
    lost = [body for body in starts if body not in streams.arrivals]
    api_latencies = api_result["latencies"]
    api_calls = sum(len(v) for v in api_latencies.values())
    rows = {
        "delivery (reply call → SSE event)": delivery,
        "reply call (commit + publish)": operator_result["reply_call_ms"],
        **api_latencies,
        **{f"{k} (setup, {args.setup_concurrency} at once)": v for k, v in streams.setup.items()},
    }
    return {
        "visitors": args.visitors,
        "streams_open": opened,
        "replies": args.replies,
        "reply_rate_per_s": args.rate,
        "replies_failed": operator_result["failed"],
        "reply_failures": operator_result["failures"],
        "replies_sent_in_s": round(operator_result["sending_seconds"], 1),
        "delivered": len(delivery),
        "lost": len(lost),
        "duplicates": streams.duplicates,
        "api_calls": api_calls,
        "api_rate_per_s": round(api_calls / (expected_seconds + 2), 1),
        "api_errors": api_result["errors"],
        "setup_errors": streams.setup_errors,
        "machine": machine,
        "machine_summary": describe(machine),
        "load_cpu_percent_of_one_core": machine["load_processes_cpu_percent_of_one_core"],
        "delivery_ms": summary(delivery),
        "reply_call_ms": summary(operator_result["reply_call_ms"]),
        "api_ms": {k: summary(v) for k, v in api_latencies.items()},
        "markdown": table(rows),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--replies", type=int, default=1000, help="operator replies in all")
    parser.add_argument("--rate", type=float, default=20.0, help="replies per second")
    parser.add_argument("--reply-concurrency", type=int, default=8)
    parser.add_argument(
        "--think-min", type=float, default=10.0, help="s between one visitor's API calls"
    )
    parser.add_argument("--think-max", type=float, default=30.0)
    parser.add_argument("--setup-concurrency", type=int, default=20)
    parser.add_argument("--grace", type=float, default=10.0, help="s to wait for late events")
    parser.add_argument("--timeout", type=float, default=900.0, help="deadline of the whole run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOAD_PORT", "8765")))
    parser.add_argument("--json", dest="json_path", help="also write the results here")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra server setting"
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    apply_env(args.port)
    extra = dict(item.split("=", 1) for item in args.env)
    with managed_server(port=args.port, workers=args.workers, extra_env=extra) as server:
        args.operator = server.seed.operator_email
        result = run_fast(
            asyncio.wait_for(
                run(args, server.base_url, server.seed.widget_token, server.worker_pids()),
                args.timeout,
            )
        )
        result["server_workers"] = args.workers
    markdown = result.pop("markdown")
    printable = {k: v for k, v in result.items() if k != "machine"}
    print(json.dumps(printable, indent=2))
    print(markdown)
    if args.json_path:
        with open(args.json_path, "w") as out:
            json.dump({**result, "markdown": markdown}, out, indent=2)
    return 0 if result["lost"] == 0 and result["replies_failed"] == 0 else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
