"""The widget's live stream (SSE) against real ``messenger serve`` processes.

Every test starts live servers with ``MESSENGER_STREAM_HEARTBEAT_SECONDS=1`` on this test's
PostgreSQL database and Redis key space; operator messages are written and published from
the pytest process (one more "process" talking through Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.conversations.service import ConversationService
from messenger.db.models import Conversation, Inbox, Message, MessageSender, User
from messenger.realtime.events import VISITOR_SHARDS, visitor_channel
from messenger.widget.sessions import SessionSigner
from tests.support.app import RELAXED_ENV
from tests.support.desk import OperatorDesk
from tests.support.factories import make_branch, make_conversation, make_inbox, make_user
from tests.support.sse import SSEStream
from tests.support.waiting import eventually
from tests.support.widget import ORIGIN, WidgetVisitor, fresh

pytestmark = pytest.mark.timeout(90)


@dataclass
class Shop:
    inbox: Inbox
    operator: User
    branch_id: int


@pytest.fixture
async def shop(live_server: Callable[..., Any], db_session: AsyncSession) -> Shop:
    """A branch inbox with one operator. ``live_server`` comes first so that this session
    is closed before the live-server fixture empties the tables."""
    branch = await make_branch(db_session)
    operator = await make_user(db_session, [branch])
    inbox = await make_inbox(db_session, branch=branch)
    await db_session.commit()
    return Shop(inbox=inbox, operator=operator, branch_id=branch.id)


@pytest.fixture
def serve(live_server: Callable[..., Any]) -> Callable[..., Any]:
    def start(**overrides: str) -> Any:
        return live_server(**RELAXED_ENV, **overrides)

    return start


@contextlib.asynccontextmanager
async def client_of(server: Any) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, timeout=10, limits=limits) as client:
        yield client


def bearer_stream(tab: WidgetVisitor, **params: Any) -> SSEStream:
    return SSEStream(tab.client, headers=tab.headers(), params=params)


def operator_messages(stream: SSEStream) -> list[int]:
    return [
        int(item.id)
        for item in stream.events("message")
        if item.id is not None and item.json()["sender"] == "operator"
    ]


# --- authentication and heartbeats ---------------------------------------------------------


async def test_stream_ticket_is_single_use_and_bearer_works_too(
    shop: Shop, serve: Callable[..., Any]
) -> None:
    server = serve()
    async with client_of(server) as client:
        tab = WidgetVisitor(client, shop.inbox.widget_token)
        boot = await tab.bootstrap()
        origin = {"Origin": ORIGIN}

        async with SSEStream(client, headers=origin, params={"ticket": boot["stream_ticket"]}) as s:
            assert s.response is not None
            assert s.response.status_code == 200
            assert s.response.headers["content-type"].startswith("text/event-stream")
            await s.connected()
        async with SSEStream(client, headers=origin, params={"ticket": boot["stream_ticket"]}) as s:
            assert s.response is not None
            reused = s.response.status_code
        async with SSEStream(
            client, headers=origin, params={"ticket": tab.session_token}
        ) as session_as_ticket:
            assert session_as_ticket.response is not None
            session_token_status = session_as_ticket.response.status_code
        async with SSEStream(client, headers=origin) as anonymous:
            assert anonymous.response is not None
            anonymous_status = anonymous.response.status_code

        issued = await client.post("/api/widget/stream/ticket", headers=tab.headers())
        assert issued.status_code in {200, 201}, issued.text
        assert issued.json()["expires_in"] > 0
        fresh_ticket = issued.json()["ticket"]
        async with SSEStream(client, headers=origin, params={"ticket": fresh_ticket}) as s:
            assert s.response is not None
            assert s.response.status_code == 200
            await s.connected()
        async with SSEStream(client, headers=origin, params={"ticket": fresh_ticket}) as s:
            assert s.response is not None
            reused_fresh = s.response.status_code

        async with bearer_stream(tab) as s:
            assert s.response is not None
            assert s.response.status_code == 200
            await s.connected()

    assert reused == 401
    assert reused_fresh == 401
    assert session_token_status == 401
    assert anonymous_status == 401


async def test_stream_sends_heartbeat_comments(shop: Shop, serve: Callable[..., Any]) -> None:
    server = serve()
    async with client_of(server) as client:
        tab = WidgetVisitor(client, shop.inbox.widget_token)
        await tab.bootstrap()
        async with bearer_stream(tab) as stream:
            await stream.connected()
            await stream.wait_for(lambda s: s.comments().count("keep-alive") >= 2, within=8)
    assert stream.comments()[0] == "connected"
    assert stream.events("message") == []
    beats = [item.at for item in stream.items if "keep-alive" in item.comments]
    gaps = [later - earlier for earlier, later in itertools.pairwise(beats)]
    assert gaps
    assert all(gap < 3 for gap in gaps), gaps  # every ~1 s as configured, not the default 15 s


async def test_heartbeats_continue_while_other_visitors_events_pass_on_the_shard(
    shop: Shop, serve: Callable[..., Any], desk: OperatorDesk, db_session: AsyncSession
) -> None:
    """Visitors share 64 shard channels; another visitor's busy conversation on the same
    shard must neither reach this stream nor starve its heartbeats."""
    server = serve()
    async with client_of(server) as client:
        tab = WidgetVisitor(client, shop.inbox.widget_token)
        await tab.bootstrap()
        session = SessionSigner(desk.settings.require_secret_key()).verify(tab.session_token)
        assert session is not None
        prefix = desk.settings.redis_prefix
        shard = visitor_channel(prefix, session.visitor_id)
        neighbour_id = next(
            candidate
            for candidate in (uuid.uuid4() for _ in range(100_000))
            if visitor_channel(prefix, candidate) == shard and candidate != session.visitor_id
        )
        neighbour = await make_conversation(db_session, shop.inbox, shop.branch_id, id=neighbour_id)

        async with bearer_stream(tab) as stream:
            await stream.connected()
            started = asyncio.get_running_loop().time()
            while asyncio.get_running_loop().time() - started < 4.5:
                await desk.typing(neighbour.id, typing=True, name="Olga")
                await asyncio.sleep(0.3)  # pacing: a busy neighbour for 4.5 s
            ended = asyncio.get_running_loop().time()
            # A marker after the neighbour's last event: once it is here, any of the
            # neighbour's events this stream forwarded would be here too.
            marker = await tab.send("marker")
            await stream.wait_for(lambda s: marker["id"] in s.message_ids())

    assert stream.events("typing") == []  # the neighbour's events are not this visitor's
    beats = [
        item.at
        for item in stream.items
        if "keep-alive" in item.comments and started <= item.at <= ended
    ]
    assert len(beats) >= 2, (
        f"{len(beats)} keep-alive comments in {ended - started:.1f}s with "
        "MESSENGER_STREAM_HEARTBEAT_SECONDS=1 while another visitor's events passed"
    )


# --- live events ---------------------------------------------------------------------------


async def test_operator_reply_arrives_live_and_is_marked_delivered(
    shop: Shop, serve: Callable[..., Any], desk: OperatorDesk, db_session: AsyncSession
) -> None:
    server = serve()
    watch = await desk.watch_branch(shop.branch_id)
    async with client_of(server) as client:
        tab = WidgetVisitor(client, shop.inbox.widget_token)
        await tab.bootstrap()
        hello = await tab.send("hello")
        conversation_id = hello["conversation_id"]
        async with bearer_stream(tab) as stream:
            await stream.connected()
            note = await desk.note(conversation_id, shop.operator.id, "internal: VIP")
            reply = await desk.reply(conversation_id, shop.operator.id, "Hello! How can I help?")
            await stream.wait_for(lambda s: reply.id in s.message_ids())
            delivered = await watch.wait_for(
                lambda e: e.event == "receipt" and e.data["kind"] == "delivered"
            )
            # Staff read the visitor's message: the widget hears of it.
            await desk.read(conversation_id, hello["id"])
            await stream.wait_for(lambda s: bool(s.events("receipt")))

    (event,) = stream.events("message")
    assert event.id == str(reply.id)
    data = event.json()
    assert data["id"] == reply.id
    assert data["sender"] == "operator"
    assert data["body"] == "Hello! How can I help?"
    assert data["author"] == {"name": shop.operator.name}
    assert data["conversation_id"] == conversation_id
    assert note.id not in stream.message_ids()
    assert "internal: VIP" not in "".join(item.data or "" for item in stream.items)
    assert delivered.data["up_to_id"] == reply.id
    stored = await fresh(db_session, Message, reply.id)
    assert stored.delivered_at is not None
    receipts = [item.json() for item in stream.events("receipt")]
    assert [(r["kind"], r["up_to_id"]) for r in receipts] == [("read", hello["id"])]
    assert receipts[0]["conversation_id"] == conversation_id
    assert (await fresh(db_session, Message, hello["id"])).read_at is not None


async def test_operator_typing_reaches_the_visitor_stream(
    shop: Shop, serve: Callable[..., Any], desk: OperatorDesk
) -> None:
    server = serve()
    async with client_of(server) as client:
        tab = WidgetVisitor(client, shop.inbox.widget_token)
        await tab.bootstrap()
        hello = await tab.send("hello")
        async with bearer_stream(tab) as stream:
            await stream.connected()
            await desk.typing(hello["conversation_id"], typing=True, name="Olga")
            await stream.wait_for(lambda s: bool(s.events("typing")))
            await desk.typing(hello["conversation_id"], typing=False, name="Olga")
            await stream.wait_for(lambda s: len(s.events("typing")) == 2)
            # The visitor's own typing goes to staff, not back to the visitor: a message the
            # visitor sends after it arrives, and no typing event before it.
            own = await tab.post("/typing", {"typing": True})
            marker = await tab.send("after typing")
            await stream.wait_for(lambda s: marker["id"] in s.message_ids())

    assert own.status_code == 204
    first, second = (item.json() for item in stream.events("typing"))
    assert first == {"typing": True, "sender": "operator", "author": {"name": "Olga"}}
    assert second["typing"] is False
    assert len(stream.events("typing")) == 2


# --- reconnecting: nothing lost, nothing twice -----------------------------------------------


@pytest.mark.parametrize("resume_with", ["header", "query"])
async def test_reconnect_with_last_event_id_replays_exactly_the_missed_messages(
    shop: Shop,
    serve: Callable[..., Any],
    desk: OperatorDesk,
    resume_with: str,
) -> None:
    server = serve()
    async with client_of(server) as client:
        tab = WidgetVisitor(client, shop.inbox.widget_token)
        await tab.bootstrap()
        hello = await tab.send("hello")
        conversation_id = hello["conversation_id"]

        async def reply(n: int) -> int:
            return (await desk.reply(conversation_id, shop.operator.id, f"reply {n}")).id

        async with bearer_stream(tab) as first:
            await first.connected()
            seen = [await reply(n) for n in range(1, 4)]
            await first.wait_for(lambda s: s.message_ids() == seen)
        last_seen = seen[-1]

        missed = [await reply(n) for n in range(4, 7)]

        if resume_with == "header":
            resumed = SSEStream(client, headers=tab.headers({"Last-Event-ID": str(last_seen)}))
        else:
            resumed = bearer_stream(tab, last_event_id=last_seen)
        async with resumed as second:
            await second.wait_for(lambda s: s.message_ids() == missed)
            live = [await reply(n) for n in range(7, 9)]
            await second.wait_for(lambda s: len(s.message_ids()) >= len(missed + live))
            if resume_with == "header":
                await second.past_catch_up()  # the second database read: still no duplicate

        async with bearer_stream(tab, last_event_id=0) as everything:
            await everything.wait_for(lambda s: len(s.message_ids()) >= 9)

    assert second.message_ids() == missed + live
    assert [item.json()["body"] for item in second.events("message")] == [
        f"reply {n}" for n in range(4, 9)
    ]
    assert all(item.id == str(item.json()["id"]) for item in second.events("message"))
    assert everything.message_ids() == [hello["id"], *seen, *missed, *live]


async def test_reconnect_replays_a_long_gap_completely_and_in_order(
    shop: Shop, serve: Callable[..., Any], desk: OperatorDesk, db_session: AsyncSession
) -> None:
    """More missed messages than one database page (200), then the operator goes on."""
    server = serve()
    missed_count = 205
    async with client_of(server) as client:
        tab = WidgetVisitor(client, shop.inbox.widget_token)
        await tab.bootstrap()
        hello = await tab.send("hello")
        conversation = await fresh(db_session, Conversation, uuid.UUID(hello["conversation_id"]))
        conversations = ConversationService(session=db_session)
        missed = []
        for n in range(missed_count):
            message, _ = await conversations.append(
                conversation,
                sender=MessageSender.OPERATOR,
                body=f"while you were away {n}",
                author=shop.operator,
            )
            missed.append(message.id)
        await db_session.commit()

        stream = SSEStream(client, headers=tab.headers({"Last-Event-ID": str(hello["id"])}))
        async with stream:
            await stream.connected()
            live = await desk.reply(hello["conversation_id"], shop.operator.id, "still there?")
            await stream.wait_for(lambda s: live.id in s.message_ids())
            await stream.past_catch_up()  # the stream's second read added nothing twice

    received = stream.message_ids()
    assert len(received) == len(set(received))
    lost = sorted(set(missed) - set(received))
    assert lost == [], f"{len(lost)} missed messages never replayed: {lost[:10]}"
    assert received == [*missed, live.id]


async def test_burst_of_operator_messages_while_reconnecting_loses_nothing(
    shop: Shop, serve: Callable[..., Any], desk: OperatorDesk, db_session: AsyncSession
) -> None:
    server = serve()
    total = 20
    async with client_of(server) as client:
        tab = WidgetVisitor(client, shop.inbox.widget_token)
        await tab.bootstrap()
        hello = await tab.send("hello")
        sent: list[int] = []

        async def burst() -> None:
            for n in range(total):
                message = await desk.reply(hello["conversation_id"], shop.operator.id, f"b{n}")
                sent.append(message.id)
                await asyncio.sleep(0.03)

        streams: list[SSEStream] = []
        sender = asyncio.create_task(burst())
        try:
            resume_from: int | None = None
            for stop_after in (4, 10):  # drop the connection twice in the middle of the burst
                headers = {"Last-Event-ID": str(resume_from)} if resume_from else {}
                async with SSEStream(client, headers=tab.headers(headers)) as stream:
                    streams.append(stream)
                    await stream.connected()
                    await stream.wait_for(lambda s, n=stop_after: len(s.message_ids()) >= n)
                received = [i for s in streams for i in s.message_ids()]
                resume_from = max(received)
                await asyncio.sleep(0.1)  # closed for a while: messages keep coming
            async with bearer_stream(tab, last_event_id=resume_from) as stream:
                streams.append(stream)
                await asyncio.wait_for(sender, 20)

                def everything_arrived(_: SSEStream) -> bool:
                    return {i for s in streams for i in s.message_ids()} >= set(sent)

                await stream.wait_for(everything_arrived, within=10)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    received = [i for s in streams for i in s.message_ids()]
    assert len(sent) == total
    assert len(received) == len(set(received)), f"duplicates in {received}"
    assert set(received) == set(sent)
    assert received == sorted(received)  # in order, across the reconnects too
    for stream in streams:
        assert set(stream.message_ids()) <= set(sent)

    async def all_delivered() -> bool:
        await db_session.commit()
        pending = await db_session.scalar(
            select(Message.id).where(
                Message.sender == MessageSender.OPERATOR, Message.delivered_at.is_(None)
            )
        )
        return pending is None

    await eventually(all_delivered)


# --- several processes -----------------------------------------------------------------------


async def test_events_cross_processes_to_the_stream(
    shop: Shop, serve: Callable[..., Any], desk: OperatorDesk
) -> None:
    server_a = serve()
    server_b = serve()
    async with client_of(server_a) as client_a, client_of(server_b) as client_b:
        on_a = WidgetVisitor(client_a, shop.inbox.widget_token)
        boot = await on_a.bootstrap()
        on_b = WidgetVisitor(client_b, shop.inbox.widget_token)
        on_b.session_token = on_a.session_token  # the same visitor, another app process

        ticket = {"ticket": boot["stream_ticket"]}
        stream = SSEStream(client_a, headers={"Origin": ORIGIN}, params=ticket)
        async with stream:
            await stream.connected()
            first = await on_b.send("sent through B")
            await stream.wait_for(lambda s: first["id"] in s.message_ids())
            reply = await desk.reply(first["conversation_id"], shop.operator.id, "from staff")
            await stream.wait_for(lambda s: reply.id in s.message_ids())
            second = await on_b.send("B again")
            await stream.wait_for(lambda s: second["id"] in s.message_ids())
            await stream.past_catch_up()  # past the second read: nothing arrives twice

    assert stream.message_ids() == [first["id"], reply.id, second["id"]]
    bodies = [item.json()["body"] for item in stream.events("message")]
    assert bodies == ["sent through B", "from staff", "B again"]
    statuses = [item.json() for item in stream.events("status")]
    assert {"conversation_id": first["conversation_id"], "status": "open"} in statuses


# --- resources -------------------------------------------------------------------------------


async def test_closed_streams_release_their_subscriptions(
    shop: Shop, serve: Callable[..., Any], redis: Any, redis_prefix: str, settings: Settings
) -> None:
    server = serve()
    shards = [f"{redis_prefix}:rt:visitor:{n}" for n in range(VISITOR_SHARDS)]
    signer = SessionSigner(settings.require_secret_key())

    async def subscribers() -> dict[str, int]:
        reply = await redis.execute_command("PUBSUB", "NUMSUB", *shards)
        pairs = zip(reply[::2], reply[1::2], strict=True)
        return {
            (name.decode() if isinstance(name, bytes) else name): int(n)
            for name, n in pairs
            if int(n)
        }

    async with client_of(server) as client:
        tabs = [WidgetVisitor(client, shop.inbox.widget_token) for _ in range(10)]
        for tab in tabs:
            await tab.bootstrap()
        channels = set()
        for tab in tabs:
            session = signer.verify(tab.session_token)
            assert session is not None
            channels.add(visitor_channel(redis_prefix, session.visitor_id))

        streams = [bearer_stream(tab) for tab in tabs for _ in range(5)]
        await asyncio.gather(*(s.__aenter__() for s in streams))
        try:
            await asyncio.gather(*(s.connected() for s in streams))
            while_open = await subscribers()
        finally:
            await asyncio.gather(*(s.close() for s in streams))

        async def all_released() -> bool:
            return await subscribers() == {}

        await eventually(all_released, within=5)

        # The process still serves, and a new stream still gets live events.
        health = await client.get("/health")
        async with bearer_stream(tabs[0]) as again:
            await again.connected()
            sent = await tabs[0].send("still working")
            await again.wait_for(lambda s: sent["id"] in s.message_ids())
        await eventually(all_released, within=5)

    assert set(while_open) == channels
    assert all(count >= 1 for count in while_open.values())
    assert health.status_code == 200
    assert "Traceback" not in server.log()
