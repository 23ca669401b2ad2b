"""Widget limits that need real sockets, client addresses and two app processes: open
streams per session and per IP (the extra one refused, the oldest kept), IPv6 clients counted
by their /64, and the per-inbox bootstrap bucket answered with the challenge — each counted
once in Redis for every process (issue 11, item 3)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Inbox
from tests.live.test_widget_security_features import (
    HEADERS,
    ROOMY,
    assert_retry_after_header,
    auth,
    bootstrap,
    challenge_of,
    new_session,
    send,
    solve,
    throttled,
)
from tests.support.factories import make_inbox
from tests.support.servers import LiveServer
from tests.support.sse import SSEStream
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(90)

StartServer = Callable[..., LiveServer]


@pytest.fixture
async def shop(live_server: StartServer, db_session: AsyncSession) -> Inbox:
    inbox = await make_inbox(db_session, name="Shop", domains=["shop.example"])
    await db_session.commit()
    return inbox


@contextlib.asynccontextmanager
async def client() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=10, limits=limits) as http:
        yield http


def from_ip(ip: str, session_token: str | None = None) -> dict[str, str]:
    headers = auth(session_token) if session_token else dict(HEADERS)
    return {**headers, "X-Forwarded-For": ip}


def two(live_server: StartServer, **overrides: str) -> tuple[LiveServer, LiveServer]:
    env = {**ROOMY, "MESSENGER_TRUSTED_PROXIES": "127.0.0.1", **overrides}
    return live_server(**env), live_server(**env)


async def test_open_streams_are_capped_per_session_and_per_ip_across_processes(
    live_server: StartServer, shop: Inbox
) -> None:
    a, b = two(
        live_server,
        MESSENGER_WIDGET_STREAMS_PER_SESSION="3",
        MESSENGER_WIDGET_STREAMS_PER_IP="5",
    )
    ip = "2001:db8:aa:1::10"
    async with client() as http, contextlib.AsyncExitStack() as stack:
        token = await new_session(http, a, shop.widget_token)

        async def stream(server: LiveServer, headers: dict[str, str]) -> SSEStream:
            opened = SSEStream(http, f"{server.url}/api/widget/stream", headers=headers)
            return await stack.enter_async_context(opened)

        mine = [await stream(s, from_ip(ip, token)) for s in (a, b, a)]
        for opened in mine:
            await opened.connected()
        refused = await stream(b, from_ip(ip, token))  # the 4th of this session
        assert refused.response is not None
        throttled(refused.response, "streams_per_session", window=60)
        assert_retry_after_header(refused.response)
        # The oldest is kept: it still beats after the refusal.
        beats = mine[0].beats()
        await mine[0].wait_for(lambda s: s.beats() > beats)
        assert not mine[0].ended.is_set()

        # Per address: two more sessions from the same /64 fill it; the next is refused,
        # another /64 is not.
        others = [await new_session(http, b, shop.widget_token) for _ in range(3)]
        for other, server in zip(others[:2], (a, b), strict=True):
            await (await stream(server, from_ip("2001:db8:aa:1::99", other))).connected()
        full = await stream(a, from_ip("2001:db8:aa:1:ffff::1", others[2]))
        assert full.response is not None
        throttled(full.response, "streams_per_ip", window=60)
        elsewhere = await stream(b, from_ip("2001:db8:aa:2::1", others[2]))
        await elsewhere.connected()

        # Closing a stream frees its place at once (not after the lease runs out).
        await mine[1].close()

        async def reopened() -> bool:
            again = SSEStream(http, f"{a.url}/api/widget/stream", headers=from_ip(ip, token))
            async with again:
                assert again.response is not None
                return again.response.status_code == 200

        await eventually(reopened, within=10, interval=0.2)


async def test_ipv6_clients_share_a_budget_per_64_across_processes(
    live_server: StartServer, shop: Inbox
) -> None:
    a, b = two(live_server, MESSENGER_WIDGET_SEND_RATE_PER_IP="2/minute")
    async with client() as http:
        sessions = [await new_session(http, a, shop.widget_token) for _ in range(4)]

        async def send_from(server: LiveServer, session: str, ip: str) -> httpx.Response:
            return await http.post(
                f"{server.url}/api/widget/messages",
                json={"body": "hi", "client_msg_id": session[-12:]},
                headers=from_ip(ip, session),
            )

        first = await send_from(a, sessions[0], "2001:db8:1:2::1")
        second = await send_from(b, sessions[1], "2001:db8:1:2:ffff::2")  # same /64
        third = await send_from(a, sessions[2], "2001:db8:1:2:abcd::3")
        other_64 = await send_from(b, sessions[3], "2001:db8:1:3::1")
        ipv4 = await send(http, b, sessions[3], "ipv4-1")  # 127.0.0.1: its own budget

    assert (first.status_code, second.status_code) == (201, 201), first.text
    throttled(third, "send_per_ip", window=60)
    assert other_64.status_code == 201, other_64.text
    assert ipv4.status_code == 201, ipv4.text


async def test_new_sessions_past_the_inbox_bucket_get_the_challenge_in_every_process(
    live_server: StartServer, db_session: AsyncSession, shop: Inbox
) -> None:
    other = await make_inbox(db_session, name="Other", domains=["shop.example"])
    await db_session.commit()
    a, b = two(
        live_server,
        MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN="3/minute",
        MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER="1000",
    )
    async with client() as http:
        returning = await new_session(http, a, shop.widget_token)  # 1 of 3
        for n, server in enumerate((b, a), start=1):  # 2 and 3, from other addresses
            ok = await bootstrap(http, server, shop.widget_token, from_ip(f"203.0.113.{n}"))
            assert ok.status_code == 200, ok.text
        flood: list[Any] = []
        for n in range(10):
            server = (a, b)[n % 2]
            flood.append(
                await bootstrap(http, server, shop.widget_token, from_ip(f"198.51.100.{n}"))
            )
        restored = [
            await bootstrap(http, s, shop.widget_token, session_token=returning) for s in (a, b)
        ]
        challenge = challenge_of(await bootstrap(http, b, shop.widget_token))
        solved = await bootstrap(http, a, shop.widget_token, challenge_solution=solve(challenge))
        unaffected = await bootstrap(http, b, other.widget_token)

    for refused in flood:
        challenge_of(refused)  # 428 with a challenge, never 429
    assert [r.status_code for r in restored] == [200, 200], restored[0].text
    assert solved.status_code == 200, solved.text
    assert unaffected.status_code == 200  # another inbox has its own bucket
