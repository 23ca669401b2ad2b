"""Auto-assignment across two live app processes: first messages sent at the same moment to
both never push an operator past their capacity and never assign a conversation twice
(issue 14, item 4)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Conversation, Message, MessageSender
from messenger.presence import RedisPresence
from tests.live.test_widget_security_features import ROOMY, auth, new_session
from tests.support.dashboard import quick_user
from tests.support.factories import make_branch, make_inbox
from tests.support.servers import LiveServer

pytestmark = pytest.mark.timeout(120)

StartServer = Callable[..., LiveServer]
CAPACITY = 2
OPERATORS = 3
VISITORS = 12


async def test_parallel_first_messages_on_two_processes_respect_every_capacity(
    live_server: StartServer, db_session: AsyncSession, redis: Redis, redis_prefix: str
) -> None:
    branch = await make_branch(db_session, "Moscow")
    operators = []
    for n in range(OPERATORS):
        user = await quick_user(db_session, [branch], email=f"op{n}@example.com", name=f"Op {n}")
        user.capacity = CAPACITY
        operators.append(user)
    inbox = await make_inbox(
        db_session, branch=branch, settings={"assignment": {"mode": "round_robin"}}
    )
    await db_session.commit()
    presence = RedisPresence(redis, prefix=f"{redis_prefix}:presence")
    for user in operators:
        await presence.touch(user.id, [branch.id], ttl=300)

    a, b = live_server(**ROOMY), live_server(**ROOMY)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        servers = [a if i % 2 == 0 else b for i in range(VISITORS)]
        tokens = [await new_session(http, s, inbox.widget_token) for s in servers]
        start = asyncio.Event()

        async def first_message(server: LiveServer, token: str, n: int) -> httpx.Response:
            await start.wait()
            return await http.post(
                f"{server.url}/api/widget/messages",
                json={"body": f"hello {n}", "client_msg_id": f"first-{n}"},
                headers=auth(token),
            )

        sends = [
            asyncio.create_task(first_message(s, t, n))
            for n, (s, t) in enumerate(zip(servers, tokens, strict=True))
        ]
        await asyncio.sleep(0)  # every task waits at the start line
        start.set()
        responses = await asyncio.gather(*sends)
    assert [r.status_code for r in responses] == [201] * VISITORS, [r.text for r in responses]

    await db_session.commit()  # a fresh snapshot of what both processes committed
    conversations = list(await db_session.scalars(select(Conversation)))
    assert len(conversations) == VISITORS  # one per visitor, none twice
    per_operator = Counter(c.assignee_id for c in conversations if c.assignee_id is not None)
    # Every operator filled exactly to capacity, never past it; the rest wait unassigned.
    assert per_operator == {user.id: CAPACITY for user in operators}
    assert sum(c.assignee_id is None for c in conversations) == VISITORS - OPERATORS * CAPACITY
    visitor_messages = await db_session.scalars(
        select(Message).where(Message.sender == MessageSender.VISITOR)
    )
    assert len(list(visitor_messages)) == VISITORS
