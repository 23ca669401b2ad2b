"""The app behind a real PgBouncer in transaction pooling mode (Debian's 1.18: no
prepared-statement support), with fewer server connections than the app has clients, so
that one app connection's transactions land on different server connections.

A whole chat goes through it: visitors bootstrap and send at once (the hot path's asyncpg
pool and the ORM's first message), poll, stream; an operator signs in, lists, replies with
the composer (advisory transaction locks), assigns; everything stored once, nothing 5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Message
from messenger.db.models.enums import MessageKind
from tests.support.app import RELAXED_ENV
from tests.support.dashboard import hx_post, quick_user, signed_in
from tests.support.env import cli_env, run_cli
from tests.support.factories import make_branch, make_inbox
from tests.support.pgbouncer import PgBouncer
from tests.support.servers import LiveServer
from tests.support.sse import SSEStream
from tests.support.widget import WidgetVisitor

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def bouncer(database_url: str) -> Iterator[PgBouncer]:
    server = PgBouncer(database_url, server_connections=2).start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def client_of(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        yield client


async def test_a_chat_through_pgbouncer_transaction_pooling(
    live_server: Callable[..., LiveServer],
    bouncer: PgBouncer,
    database_url: str,
    db_session: AsyncSession,
) -> None:
    branch = await make_branch(db_session)
    operator = await quick_user(db_session, [branch], email="op@example.com", name="Olga")
    inbox = await make_inbox(db_session, branch=branch)
    await db_session.commit()

    server = live_server(
        **RELAXED_ENV,
        DATABASE_URL=bouncer.url(database_url),
        MESSENGER_DB_POOLER="transaction",
        MESSENGER_DB_POOL_SIZE="6",
    )
    async with client_of(server) as site, client_of(server) as staff:
        visitors = [WidgetVisitor(site, inbox.widget_token) for _ in range(12)]
        await asyncio.gather(*(v.bootstrap() for v in visitors))

        async def chat(visitor: WidgetVisitor, n: int) -> list[dict[str, Any]]:
            first = await visitor.send(f"visitor {n} first")
            # The rest at once: hot-path sends interleave on the bouncer's two connections.
            rest = await asyncio.gather(
                *(visitor.send(f"visitor {n} #{i}", f"v{n}-{i}") for i in range(3))
            )
            # A retried send with the same id is the stored message, not a second one.
            again = await visitor.send_raw(f"visitor {n} #0", f"v{n}-0")
            assert again.status_code == 200, again.text
            assert again.json()["id"] == rest[0]["id"]
            return [first, *rest]

        sent = await asyncio.gather(*(chat(v, n) for n, v in enumerate(visitors)))
        conversation_id = sent[0][0]["conversation_id"]
        polled = await visitors[0].poll()
        assert [m["id"] for m in polled["messages"]] == sorted(m["id"] for m in sent[0])

        await signed_in(staff, operator.email)
        listing = await staff.get("/conversations")
        assert listing.status_code == 200
        assert all(str(first["conversation_id"]) in listing.text for first, *_ in sent)

        async with SSEStream(
            site, headers=visitors[0].headers(), params={"last_event_id": sent[0][-1]["id"]}
        ) as stream:
            await stream.connected()
            base = f"/conversations/{conversation_id}"
            draft = uuid.uuid4().hex
            for _ in range(2):  # a retried composer send: one reply
                reply = await hx_post(
                    staff, f"{base}/messages", {"body": "hello from Olga", "client_msg_id": draft}
                )
                assert reply.status_code == 200, reply.text
            assigned = await hx_post(staff, f"{base}/assign-me")
            assert assigned.status_code == 200, assigned.text
            await stream.wait_for(
                lambda s: any(e.get("body") == "hello from Olga" for e in s.messages())
            )
            assert [e["body"] for e in stream.messages()].count("hello from Olga") == 1

    stored = await db_session.scalar(
        select(func.count()).select_from(Message).where(Message.kind == MessageKind.MESSAGE)
    )
    assert stored == 12 * 4 + 1
    assert "Traceback" not in server.log()
    assert '" 50' not in server.log()  # no 5xx in the access log

    # `messenger check` through the bouncer: the database item passes, the pooler is named.
    result = run_cli(
        "check",
        "--json",
        env=cli_env(DATABASE_URL=bouncer.url(database_url), MESSENGER_DB_POOLER="transaction"),
    )
    assert '"db_pooler"' in result.stdout
    assert "Traceback" not in result.stderr
