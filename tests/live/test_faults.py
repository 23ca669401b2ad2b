"""Faults without loss, against live processes: Redis killed and restarted empty, a publish
lost after its commit, PostgreSQL connections killed, an app process killed with SIGKILL.

Each test starts what it breaks (its own ``redis-server`` on a free port, its own app
processes) and waits on conditions, never on fixed pauses.
"""

from __future__ import annotations

import contextlib
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db.models import Branch, Inbox, User
from tests.support.app import RELAXED_ENV
from tests.support.dashboard import quick_user, signed_in
from tests.support.desk import OperatorDesk
from tests.support.factories import make_branch, make_inbox
from tests.support.redis_process import RedisProcess
from tests.support.servers import LiveServer
from tests.support.sse import SSEStream, staff_stream
from tests.support.waiting import eventually
from tests.support.widget import WidgetVisitor

pytestmark = pytest.mark.timeout(120)

#: Open streams re-read the database every second here (the default is 5 s).
FAULT_ENV = {**RELAXED_ENV, "MESSENGER_STREAM_CATCH_UP_SECONDS": "1"}


@dataclass
class Shop:
    branch: Branch
    inbox: Inbox
    operator: User


@pytest.fixture
async def shop(live_server: Callable[..., Any], db_session: AsyncSession) -> Shop:
    """A branch inbox and one operator (``live_server`` first: its fixture empties the
    tables after this session is closed)."""
    branch = await make_branch(db_session)
    operator = await quick_user(db_session, [branch], email="op@example.com", name="Olga")
    inbox = await make_inbox(db_session, branch=branch)
    await db_session.commit()
    return Shop(branch=branch, inbox=inbox, operator=operator)


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    server = RedisProcess().start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def client_of(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


async def messages_in_db(desk: OperatorDesk, conversation_id: str) -> list[tuple[str, str]]:
    return [(m.sender.value, m.body) for m in await desk.messages(conversation_id)]


# --- Redis killed mid-chat, then restarted empty ---------------------------------------------


async def test_redis_killed_mid_chat_answers_503_quickly_and_everything_resumes_after_restart(
    shop: Shop,
    live_server: Callable[..., LiveServer],
    env: dict[str, str],
    own_redis: RedisProcess,
) -> None:
    server = live_server(**FAULT_ENV, REDIS_URL=own_redis.url)
    settings = Settings.from_env({**env, "REDIS_URL": own_redis.url})
    async with (
        client_of(server) as client,
        client_of(server) as staff,
        OperatorDesk(settings) as desk,
    ):
        tab = WidgetVisitor(client, shop.inbox.widget_token)
        await tab.bootstrap()
        first = await tab.send("before the outage")
        conversation_id = first["conversation_id"]
        await signed_in(staff, shop.operator.email)
        stream = SSEStream(client, headers=tab.headers(), params={"last_event_id": first["id"]})
        await stream.__aenter__()
        try:
            await stream.connected()

            own_redis.kill()

            # Every widget call: a 503 JSON with Retry-After, within a second, never a 500.
            retried_id = uuid.uuid4().hex
            calls = {
                "send": lambda: tab.send_raw("during the outage", retried_id),
                "bootstrap": lambda: client.post(
                    "/api/widget/bootstrap",
                    json={"widget_token": tab.widget_token, "session_token": tab.session_token},
                    headers=tab.headers(auth=False),
                ),
                "poll": lambda: client.get(
                    "/api/widget/messages", params={"after": 0}, headers=tab.headers()
                ),
                "typing": lambda: tab.post("/typing", {"typing": True}),
                "ticket": lambda: client.post("/api/widget/stream/ticket", headers=tab.headers()),
            }
            for name, call in calls.items():
                started = time.monotonic()
                response = await call()
                elapsed = time.monotonic() - started
                assert response.status_code == 503, (name, response.status_code, response.text)
                assert response.json()["error"] == "unavailable", name
                assert int(response.headers["retry-after"]) > 0, name
                assert elapsed < 1.0, (name, elapsed)

            ready = await client.get("/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "ok"
            assert ready.json()["checks"]["redis"].startswith("unavailable")

            page = await staff.get(
                "/conversations", headers={"Accept": "text/html", "Accept-Language": "en"}
            )
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")
            assert "temporarily unavailable" in page.text
            assert "Traceback" not in page.text

            # An operator reply written while Redis is away: committed, its publish lost.
            during = await desk.reply(conversation_id, shop.operator.id, "reply during outage")
            # The open stream still gets it, from the database.
            await stream.wait_for(lambda s: during.id in s.message_ids(), within=8)

            own_redis.start()  # empty: sessions, counters, tickets are gone

            async def resumed() -> bool:
                response = await tab.send_raw("during the outage", retried_id)
                return response.status_code == 201

            await eventually(resumed, within=10, interval=0.2)
            again = await tab.send_raw("during the outage", retried_id)
            assert again.status_code == 200  # the same message, not a second one

            async def live_again() -> bool:
                response = await client.get("/ready")
                return response.status_code == 200

            await eventually(live_again, within=10, interval=0.2)
            after = await desk.reply(conversation_id, shop.operator.id, "reply after restart")
            await stream.wait_for(lambda s: after.id in s.message_ids(), within=8)
            ticket = await client.post("/api/widget/stream/ticket", headers=tab.headers())
            assert ticket.status_code in {200, 201}, ticket.text
        finally:
            await stream.close()

        # Each message once, on the stream and in the database.
        ids = stream.message_ids()
        assert len(ids) == len(set(ids))
        assert await messages_in_db(desk, conversation_id) == [
            ("visitor", "before the outage"),
            ("operator", "reply during outage"),
            ("visitor", "during the outage"),
            ("operator", "reply after restart"),
        ]
        # Staff sessions lived in the Redis that was emptied: sign in again, and it works.
        await signed_in(staff, shop.operator.email)
        page = await staff.get(f"/conversations/{conversation_id}")
        assert page.status_code == 200
        assert page.text.count(f'id="msg-{after.id}"') == 1


# --- a publish lost after its commit ----------------------------------------------------------


async def test_a_committed_message_whose_publish_failed_reaches_widget_and_staff_streams(
    shop: Shop, live_server: Callable[..., LiveServer], desk: OperatorDesk
) -> None:
    server = live_server(**FAULT_ENV)
    async with client_of(server) as client, client_of(server) as staff:
        tab = WidgetVisitor(client, shop.inbox.widget_token)
        await tab.bootstrap()
        first = await tab.send("hello")
        conversation_id = first["conversation_id"]
        await signed_in(staff, shop.operator.email)
        async with (
            SSEStream(client, headers=tab.headers()) as widget,
            staff_stream(staff, {"conversation": conversation_id}) as operator,
        ):
            await widget.connected()
            await operator.connected()

            lost = await desk.reply(
                conversation_id, shop.operator.id, "lost publish", publish=False
            )

            await widget.wait_for(lambda s: lost.id in s.message_ids(), within=5)
            await operator.wait_for(
                lambda s: lost.id in s.message_ids(),
                within=5,
            )
            # A later, published message arrives once, after it (the catch-up does not
            # send the lost one twice).
            marker = await desk.reply(conversation_id, shop.operator.id, "published")
            await widget.wait_for(lambda s: marker.id in s.message_ids())
            await operator.wait_for(lambda s: marker.id in s.message_ids())
            await widget.past_catch_up()
            staff_ids = operator.message_ids()
            assert widget.message_ids().count(lost.id) == 1
            assert staff_ids.count(lost.id) == 1
            assert staff_ids.count(marker.id) == 1
            assert operator.events("list"), "the conversation list is refreshed too"


# --- PostgreSQL connections killed ------------------------------------------------------------


async def test_killed_database_connections_do_not_fail_the_next_calls(
    shop: Shop, live_server: Callable[..., LiveServer], settings: Settings
) -> None:
    server = live_server(**FAULT_ENV)
    database = settings.effective_database_url.replace("+asyncpg", "")
    async with client_of(server) as client, client_of(server) as staff:
        tab = WidgetVisitor(client, shop.inbox.widget_token)
        await tab.bootstrap()
        await tab.send("before")
        await signed_in(staff, shop.operator.email)
        assert (await staff.get("/conversations")).status_code == 200

        conn = await asyncpg.connect(database)
        try:
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await conn.close()
        assert killed >= 1  # the app's pooled connections

        # The very next calls succeed (pool_pre_ping replaces the dead connections).
        sent = await tab.send_raw("after")
        assert sent.status_code == 201, sent.text
        assert (await tab.poll())["messages"]
        assert (await staff.get("/conversations")).status_code == 200
        assert (await client.get("/ready")).status_code == 200


# --- an app process killed with SIGKILL while two serve --------------------------------------


async def test_sigkill_of_one_process_the_widget_and_dashboard_resume_on_the_other(
    shop: Shop, live_server: Callable[..., LiveServer], desk: OperatorDesk
) -> None:
    doomed = live_server(**FAULT_ENV)
    survivor = live_server(**FAULT_ENV)
    async with (
        client_of(doomed) as on_doomed,
        client_of(survivor) as on_survivor,
        client_of(doomed) as staff_doomed,
        client_of(survivor) as staff_survivor,
    ):
        tab = WidgetVisitor(on_doomed, shop.inbox.widget_token)
        await tab.bootstrap()
        first = await tab.send("hello", "c-1")
        conversation_id = first["conversation_id"]
        await signed_in(staff_doomed, shop.operator.email)
        # The session cookie is shared state: the same staff session on the other process.
        staff_survivor.cookies = staff_doomed.cookies

        widget = SSEStream(on_doomed, headers=tab.headers(), params={"last_event_id": first["id"]})
        operator = staff_stream(staff_doomed, {"conversation": conversation_id})
        async with widget, operator:
            await widget.connected()
            await operator.connected()
            one = await desk.reply(conversation_id, shop.operator.id, "one")
            await widget.wait_for(lambda s: one.id in s.message_ids())

            assert doomed.process is not None
            doomed.process.send_signal(signal.SIGKILL)
            doomed.process.wait(timeout=10)
            await widget.wait_for(lambda s: s.ended.is_set() or None, within=10)
            await operator.wait_for(lambda s: s.ended.is_set() or None, within=10)
            last_seen = widget.message_ids()[-1]

            # Written while no stream is open: replayed on reconnect.
            two = await desk.reply(conversation_id, shop.operator.id, "two")
            three = await desk.reply(conversation_id, shop.operator.id, "three")

        # The widget reconnects to the other process with Last-Event-ID, and re-sends its
        # pending message with the same client_msg_id (its answer was lost with the process).
        tab.client = on_survivor
        resent = await tab.send_raw("hello", "c-1")
        assert resent.status_code == 200
        assert resent.json()["id"] == first["id"]
        async with (
            SSEStream(
                on_survivor, headers={**tab.headers(), "Last-Event-ID": str(last_seen)}
            ) as widget_again,
            staff_stream(staff_survivor, {"conversation": conversation_id}) as operator_again,
        ):
            await widget_again.wait_for(lambda s: three.id in s.message_ids())
            assert widget_again.message_ids() == [two.id, three.id]
            await operator_again.connected()
            four = await desk.reply(conversation_id, shop.operator.id, "four")
            await widget_again.wait_for(lambda s: four.id in s.message_ids())
            await operator_again.wait_for(lambda s: four.id in s.message_ids())
            await widget_again.past_catch_up()
            assert widget_again.message_ids() == [two.id, three.id, four.id]

        # The dashboard reloads the conversation from the surviving process: each once.
        page = await staff_survivor.get(f"/conversations/{conversation_id}")
        assert page.status_code == 200
        for message_id in (first["id"], one.id, two.id, three.id, four.id):
            assert page.text.count(f'id="msg-{message_id}"') == 1, message_id
        assert [b for _, b in await messages_in_db(desk, conversation_id)] == [
            "hello",
            "one",
            "two",
            "three",
            "four",
        ]
