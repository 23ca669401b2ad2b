"""SQL statements and Redis commands one Widget API call costs (the app in-process).

Prepares the throwaway ``messenger_load`` database (as ``harness.py`` does), runs the app
in this process through Litestar's ``AsyncTestClient``, and counts what each call sends to
PostgreSQL (SQLAlchemy ``before_cursor_execute``) and to Redis.

    python loadtests/sql_count.py            # add -v to print the statements
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from harness import Seed, apply_env, cleanup, prepare

PORT = 8765


async def count(seed: Seed, verbose: bool) -> int:
    apply_env(PORT)
    from litestar.testing import AsyncTestClient
    from redis.asyncio import client as redis_client
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from messenger.app import create_app

    statements: list[str] = []
    redis_commands: list[str] = []

    @event.listens_for(Engine, "before_cursor_execute")
    def _count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split())[:100])

    original = redis_client.Redis.execute_command

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        redis_commands.append(str(args[0]))
        return await original(self, *args, **kwargs)

    redis_client.Redis.execute_command = counted  # type: ignore[method-assign]
    origin = {"Origin": f"http://127.0.0.1:{PORT}"}
    rows = []
    try:
        async with AsyncTestClient(create_app(), base_url=f"http://127.0.0.1:{PORT}") as client:

            async def call(name: str, make: Callable[[], Awaitable[Any]]) -> Any:
                statements.clear()
                redis_commands.clear()
                response = await make()
                rows.append((name, response.status_code, len(statements), len(redis_commands)))
                if verbose:
                    print(f"== {name}")
                    for statement in statements:
                        print("   ", statement)
                return response

            token = seed.widget_token
            boot = await call(
                "bootstrap (new visitor)",
                lambda: client.post(
                    "/api/widget/bootstrap", json={"widget_token": token}, headers=origin
                ),
            )
            session = boot.json()["session_token"]
            auth = {**origin, "Authorization": f"Bearer {session}"}

            def send() -> Awaitable[Any]:
                body = {"body": "hi", "client_msg_id": uuid.uuid4().hex}
                return client.post("/api/widget/messages", json=body, headers=auth)

            first = await call("send (first: visitor and conversation rows)", send)
            await call("send", send)
            last = first.json()["id"] + 1
            await asyncio.sleep(0.6)  # past the minimum poll interval
            await call(
                "poll (nothing new)",
                lambda: client.get(f"/api/widget/messages?after={last}", headers=auth),
            )
            await call(
                "typing",
                lambda: client.post("/api/widget/typing", json={"typing": True}, headers=auth),
            )
            await call(
                "read",
                lambda: client.post("/api/widget/read", json={"up_to_id": last}, headers=auth),
            )
            await call(
                "bootstrap (returning visitor)",
                lambda: client.post(
                    "/api/widget/bootstrap",
                    json={"widget_token": token, "session_token": session},
                    headers=origin,
                ),
            )
            await call(
                "stream ticket", lambda: client.post("/api/widget/stream/ticket", headers=auth)
            )
    finally:
        redis_client.Redis.execute_command = original  # type: ignore[method-assign]
    print("| call | status | SQL statements | Redis commands |")
    print("| --- | ---: | ---: | ---: |")
    for name, status, sql, redis in rows:
        print(f"| {name} | {status} | {sql} | {redis} |")
    return 0


def main() -> int:
    seed = prepare(PORT)
    try:
        return asyncio.run(count(seed, "-v" in sys.argv))
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
