"""CPU per dashboard action in-process: what one sign-in, list page, list refresh, opened
conversation, reply, assignment or status change costs this process, one at a time.

The app is called as an ASGI app (no socket, no uvicorn), as in ``lane_cost.py``: the
figure is this process's CPU (``time.process_time``) per call - the app, its middlewares,
the templates and the client side of asyncpg and redis-py (not PostgreSQL's or Redis's own
work). The inbox is the load test's: the demo inbox with ``--visitors`` conversations (one
first message each) and ``--operators`` operators of its branch, one of whom is timed.
Sign-in includes its Argon2 verification (in a thread: CPU of this process too).

    LOAD_DB_NAME=messenger_dashcost LOAD_REDIS_PREFIX=dashcost flock /tmp/bench.lock \\
        .venv/bin/python loadtests/dash_cost.py [--calls 40] [--rounds 5] [--only open]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import random
import re
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import msgspec

os.environ.setdefault("LOAD_DB_NAME", "messenger_dashcost")
os.environ.setdefault("LOAD_REDIS_PREFIX", "dashcost")

from bench import BENCH_ENV
from harness import Seed, apply_env, cleanup, prepare, server_env
from lane_cost import _call

PORT = 8799  # only names the public URL: nothing listens
_CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')
_CONVERSATION = re.compile(r'id="conv-([0-9a-f-]{36})"')


class Browser:
    """Cookies and the CSRF token of one signed-in operator, over ASGI calls."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    async def call(
        self, method: str, path: str, form: dict[str, str] | None = None, *, htmx: bool = False
    ) -> tuple[int, str]:
        path, _, query = path.partition("?")
        body = urlencode(form).encode() if form is not None else b""
        headers = [(b"accept-language", b"ru-RU,ru;q=0.9"), (b"host", f"127.0.0.1:{PORT}".encode())]
        if self.cookies:
            cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            headers.append((b"cookie", cookie.encode()))
        if htmx:
            headers += [(b"hx-request", b"true"), (b"x-csrftoken", self.csrf.encode())]
        if form is not None:
            headers += [
                (b"content-type", b"application/x-www-form-urlencoded"),
                (b"content-length", str(len(body)).encode()),
            ]
        answer: list[bytes] = []
        started: list[Any] = []
        status = await _call(self.app, method, query.encode(), headers, body, path, answer, started)
        for name, value in started[0].get("headers", []) if started else []:
            if name.lower() == b"set-cookie":
                for morsel in SimpleCookie(value.decode()).values():
                    self.cookies[morsel.key] = morsel.value
        return status, b"".join(answer).decode()

    async def sign_in(self, email: str, password: str) -> None:
        self.cookies.clear()
        status, page = await self.call("GET", "/login")
        token = _CSRF_FIELD.search(page)
        assert status == 200, status
        assert token, page[:300]
        status, text = await self.call(
            "POST", "/login", {"_csrf_token": token.group(1), "email": email, "password": password}
        )
        assert status == 303, (status, text[:300])
        status, page = await self.call("GET", "/conversations")
        token = _CSRF_FIELD.search(page)
        assert status == 200, status
        assert token, page[:300]
        self.csrf = token.group(1)


async def _visitors(app: Any, seed: Seed, count: int) -> None:
    origin = f"http://127.0.0.1:{PORT}"
    json_headers = [(b"origin", origin.encode()), (b"content-type", b"application/json")]
    boot_body = msgspec.json.encode({"widget_token": seed.widget_token, "locale": "ru-RU"})
    for n in range(count):
        answer: list[bytes] = []
        headers = [*json_headers, (b"content-length", str(len(boot_body)).encode())]
        status = await _call(app, "POST", b"", headers, boot_body, "/api/widget/bootstrap", answer)
        assert status == 200, answer
        token = msgspec.json.decode(b"".join(answer))["session_token"]
        body = msgspec.json.encode({"body": f"Hello <b>{n}</b>", "client_msg_id": f"first-{n}"})
        headers = [
            *json_headers,
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        status = await _call(app, "POST", b"", headers, body)
        assert status == 201, status


async def run(
    seed: Seed, args: argparse.Namespace, emails: list[str], password: str
) -> dict[str, float]:
    from messenger.app import create_app
    from messenger.config import Settings

    settings = Settings.from_env({**server_env(PORT), **BENCH_ENV})
    app = create_app(settings)
    results: dict[str, list[float]] = {}
    async with app.lifespan():
        await _visitors(app, seed, args.visitors)
        browser = Browser(app)
        await browser.sign_in(emails[0], password)
        _, page = await browser.call("GET", "/conversations")
        conversations = _CONVERSATION.findall(page)
        assert conversations, "no conversation on the list"
        views = itertools.cycle(
            [f"view={v}&status={s}" for v in ("all", "mine", "unassigned") for s in ("open", "any")]
        )
        signer = Browser(app)
        who = itertools.cycle(emails)

        async def sign_in() -> None:
            await signer.sign_in(next(who), password)

        async def list_page() -> None:
            status, _ = await browser.call("GET", "/conversations")
            assert status == 200, status

        async def list_partial() -> None:
            status, _ = await browser.call("GET", f"/conversations?{next(views)}", htmx=True)
            assert status == 200, status

        async def open_() -> None:
            status, _ = await browser.call("GET", f"/conversations/{random.choice(conversations)}")
            assert status == 200, status

        async def reply() -> None:
            form = {"body": "Сейчас проверю.", "kind": "message", "client_msg_id": uuid.uuid4().hex}
            target = random.choice(conversations)
            status, _ = await browser.call(
                "POST", f"/conversations/{target}/messages", form, htmx=True
            )
            assert status == 200, status

        async def assign() -> None:
            target = random.choice(conversations)
            status, _ = await browser.call(
                "POST", f"/conversations/{target}/assign-me", {}, htmx=True
            )
            assert status in {200, 409}, status

        async def change_status() -> None:
            target = random.choice(conversations)
            form = {"status": random.choice(["pending", "open"])}
            status, _ = await browser.call(
                "POST", f"/conversations/{target}/status", form, htmx=True
            )
            assert status == 200, status

        actions = {
            "sign in (3 calls)": sign_in,
            "list (page)": list_page,
            "list (partial)": list_partial,
            "open": open_,
            "reply": reply,
            "assign": assign,
            "status": change_status,
        }
        chosen = {k: v for k, v in actions.items() if not args.only or k in args.only}
        for action in chosen.values():  # warm-up: templates compiled, statements cached
            await action()
        if args.statements:
            return await _statements(chosen, verbose=args.verbose)
        for _ in range(args.rounds):
            for name, action in chosen.items():
                started = time.process_time()
                for _ in range(args.calls):
                    await action()
                results.setdefault(name, []).append(
                    (time.process_time() - started) / args.calls * 1000
                )
    return {name: statistics.median(values) for name, values in results.items()}


async def _statements(
    actions: dict[str, Callable[[], Awaitable[None]]], *, verbose: bool
) -> dict[str, float]:
    """SQL statements per action (one call each), instead of the CPU."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split())[:160])

    event.listen(Engine, "before_cursor_execute", count)
    counts: dict[str, float] = {}
    for name, action in actions.items():
        statements.clear()
        await action()
        counts[name] = len(statements)
        if verbose:
            print(f"-- {name}", *statements, sep="\n   ")
    event.remove(Engine, "before_cursor_execute", count)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40, help="calls per block")
    parser.add_argument("--rounds", type=int, default=5, help="blocks per action")
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--operators", type=int, default=10)
    parser.add_argument("--only", nargs="*", default=None, help="actions to time")
    parser.add_argument(
        "--statements", action="store_true", help="count SQL statements instead (no timing)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print the statements")
    args = parser.parse_args()
    handler = logging.FileHandler(os.devnull)
    from messenger.logs import JsonFormatter

    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    seed = prepare(PORT)
    apply_env(PORT)
    from rounds import create_operators

    try:
        emails, password = create_operators(args.operators, seed.branch_id)
        results = asyncio.run(run(seed, args, emails, password))
    finally:
        cleanup()
    if args.statements:
        print("SQL statements per action:")
    else:
        print(
            f"CPU of this process per action, ms (median of {args.rounds} blocks of {args.calls}):"
        )
    for name, ms in results.items():
        print(f"  {name:<18} {ms:7.2f}" if not args.statements else f"  {name:<18} {ms:4.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
