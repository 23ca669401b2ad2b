"""Redis through Sentinel: the primary is killed mid-chat, the sentinel promotes the
replica, the app finds the new primary by itself (REDIS_SENTINELS + REDIS_SENTINEL_MASTER),
streams resume with replay, and no accepted message is lost or doubled.

The test starts its own primary, replica and sentinel (Debian's ``redis-server`` and
``redis-sentinel``) on free ports; the suite's Redis is not touched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Message
from messenger.db.models.enums import MessageKind
from tests.support.app import RELAXED_ENV
from tests.support.dashboard import hx_post, quick_user, signed_in
from tests.support.factories import make_branch, make_inbox
from tests.support.sentinel import MASTER_NAME, SentinelGroup
from tests.support.servers import LiveServer
from tests.support.sse import SSEStream
from tests.support.widget import WidgetVisitor

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
def sentinel_group() -> Iterator[SentinelGroup]:
    group = SentinelGroup().start()
    try:
        yield group
    finally:
        group.stop()


async def until_ok(call: Callable[[], Any], within: float = 30.0) -> httpx.Response:
    """Repeat a call while the app answers 503 (Redis is failing over); anything else
    than 503 or a 2xx fails the test."""
    deadline = time.monotonic() + within
    while True:
        response: httpx.Response = await call()
        if response.status_code < 300:
            return response
        assert response.status_code == 503, response.text
        assert time.monotonic() < deadline, "still 503 after the failover"
        await asyncio.sleep(0.2)


async def test_the_primary_fails_over_mid_chat_and_nothing_is_lost_or_doubled(
    live_server: Callable[..., LiveServer],
    sentinel_group: SentinelGroup,
    db_session: AsyncSession,
) -> None:
    branch = await make_branch(db_session)
    operator = await quick_user(db_session, [branch], email="op@example.com", name="Olga")
    inbox = await make_inbox(db_session, branch=branch)
    await db_session.commit()
    server = live_server(
        **RELAXED_ENV,
        REDIS_URL="",
        REDIS_SENTINELS=sentinel_group.sentinels,
        REDIS_SENTINEL_MASTER=MASTER_NAME,
        MESSENGER_STREAM_CATCH_UP_SECONDS="1",
    )
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=20) as site,
        httpx.AsyncClient(base_url=server.url, timeout=20) as staff,
    ):
        tab = WidgetVisitor(site, inbox.widget_token)
        await tab.bootstrap()
        first = await tab.send("before the failover", "m-1")
        conversation_id = first["conversation_id"]
        base = f"/conversations/{conversation_id}"
        await signed_in(staff, operator.email)

        async def reply(body: str, draft: str) -> httpx.Response:
            async def once() -> httpx.Response:
                answer = await hx_post(
                    staff, f"{base}/messages", {"body": body, "client_msg_id": draft}
                )
                if answer.status_code in (302, 303, 401):  # the staff session was not replicated
                    await signed_in(staff, operator.email)
                    answer = await hx_post(
                        staff, f"{base}/messages", {"body": body, "client_msg_id": draft}
                    )
                return answer

            return await until_ok(once)

        async with SSEStream(
            site, headers=tab.headers(), params={"last_event_id": first["id"]}
        ) as stream:
            await stream.connected()
            await reply("one", "r-1")
            await stream.wait_for(lambda s: any(m["body"] == "one" for m in s.messages()))
            last_seen = stream.message_ids()[-1]

            sentinel_group.kill_primary_and_wait_for_the_replica()

        # The visitor's send during or after the failover: retried with its id until accepted.
        after = await until_ok(lambda: tab.send_raw("after the failover", "m-2"))
        again = await tab.send_raw("after the failover", "m-2")
        assert again.status_code == 200, again.text
        assert again.json()["id"] == after.json()["id"]
        await reply("two", "r-2")

        # The widget reconnects with Last-Event-ID: what it missed is replayed, once.
        async with SSEStream(
            site, headers={**tab.headers(), "Last-Event-ID": str(last_seen)}
        ) as resumed:
            await resumed.wait_for(lambda s: any(m["body"] == "two" for m in s.messages()))
            await reply("three", "r-3")
            await resumed.wait_for(lambda s: any(m["body"] == "three" for m in s.messages()))
            await resumed.past_catch_up()
            bodies = [m["body"] for m in resumed.messages()]
            assert bodies.count("two") == 1
            assert bodies.count("three") == 1

        # The app's shared state lives in the promoted primary now (not in process memory).
        assert sentinel_group.primary_address()[1] == sentinel_group.replica_port
        assert sentinel_group.keys_on_the_primary() > 0
        ready = await site.get("/ready")
        assert ready.status_code == 200, ready.text

    stored = (
        await db_session.scalars(
            select(Message.body).where(Message.kind == MessageKind.MESSAGE).order_by(Message.id)
        )
    ).all()
    assert stored == ["before the failover", "one", "after the failover", "two", "three"]
