"""Widget API security features, against real PostgreSQL, Redis and live app processes.

Throttling (the six limits, counted once for all processes), whose address counts
(``X-Forwarded-For`` only from a trusted proxy), the proof-of-work challenge, internal
notes never reaching a visitor, and the checks on uploads.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from altcha import solve_challenge_v1
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.links import AttachmentLinks
from messenger.backends import Backends
from messenger.config import Settings
from messenger.conversations.service import ConversationService
from messenger.db.events import take_committed
from messenger.db.models import Conversation, Inbox
from messenger.realtime.events import Envelope, encode, visitor_channel
from messenger.realtime.publisher import Publisher
from tests.support.factories import make_branch, make_inbox, make_user
from tests.support.servers import LiveServer
from tests.support.sse import SSEStream
from tests.support.waiting import eventually

ORIGIN = "https://shop.example"


HEADERS = {"Origin": ORIGIN}


#: Every limit roomy and the poll gap tiny; each test tightens only what it is about.
ROOMY = {
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP": "1000/minute",
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN": "1000/minute",
    "MESSENGER_WIDGET_SEND_RATE_PER_SESSION": "1000/minute",
    "MESSENGER_WIDGET_SEND_RATE_PER_IP": "1000/minute",
    "MESSENGER_WIDGET_POLL_RATE_PER_SESSION": "1000/minute",
    "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS": "0.001",
    "MESSENGER_WIDGET_TYPING_RATE_PER_SESSION": "1000/minute",
    "MESSENGER_WIDGET_READ_RATE_PER_SESSION": "1000/minute",
    "MESSENGER_WIDGET_TICKET_RATE_PER_SESSION": "1000/minute",
    "MESSENGER_WIDGET_STREAMS_PER_SESSION": "100",
    "MESSENGER_WIDGET_STREAMS_PER_IP": "100",
    "MESSENGER_WIDGET_UPLOAD_RATE_PER_SESSION": "1000/minute",
    "MESSENGER_WIDGET_UPLOAD_RATE_PER_IP": "1000/minute",
    "MESSENGER_WIDGET_DOWNLOAD_RATE_PER_IP": "1000/minute",
    "MESSENGER_WIDGET_CHALLENGE_THRESHOLD": "1000",
    "MESSENGER_STREAM_HEARTBEAT_SECONDS": "1",
}


StartServer = Callable[..., LiveServer]


# --- helpers ------------------------------------------------------------------------------


@pytest.fixture
async def shop(db_session: AsyncSession) -> Inbox:
    return await make_inbox(db_session, name="Shop", domains=["shop.example"])


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as client:
        yield client


async def two_processes(live_server: StartServer, **overrides: str) -> tuple[LiveServer, ...]:
    """Two app processes with the same environment (started side by side, to save time)."""
    env = {**ROOMY, **overrides}
    servers = await asyncio.gather(
        asyncio.to_thread(live_server, **env), asyncio.to_thread(live_server, **env)
    )
    return tuple(servers)


async def one_process(live_server: StartServer, **overrides: str) -> LiveServer:
    return await asyncio.to_thread(live_server, **{**ROOMY, **overrides})


def auth(session_token: str, **extra: str) -> dict[str, str]:
    return {**HEADERS, "Authorization": f"Bearer {session_token}", **extra}


async def bootstrap(
    http: httpx.AsyncClient,
    server: LiveServer,
    widget_token: str,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> httpx.Response:
    return await http.post(
        f"{server.url}/api/widget/bootstrap",
        json={"widget_token": widget_token, **fields},
        headers=HEADERS if headers is None else headers,
    )


async def new_session(http: httpx.AsyncClient, server: LiveServer, widget_token: str) -> str:
    response = await bootstrap(http, server, widget_token)
    assert response.status_code == 200, response.text
    return response.json()["session_token"]


async def send(
    http: httpx.AsyncClient, server: LiveServer, session_token: str, client_msg_id: str
) -> httpx.Response:
    return await http.post(
        f"{server.url}/api/widget/messages",
        json={"body": f"message {client_msg_id}", "client_msg_id": client_msg_id},
        headers=auth(session_token),
    )


async def poll(
    http: httpx.AsyncClient, server: LiveServer, session_token: str, after: int = 0
) -> httpx.Response:
    return await http.get(
        f"{server.url}/api/widget/messages", params={"after": after}, headers=auth(session_token)
    )


def throttled(response: httpx.Response, limit: str, window: int) -> int:
    """A 429 of ``limit``: the JSON body says when to retry (the header is checked apart)."""
    assert response.status_code == 429, (response.status_code, response.text)
    body = response.json()
    assert body["error"] == "throttled"
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body.get("limit") == limit
    retry_after = body["retry_after"]
    assert isinstance(retry_after, int)
    assert 1 <= retry_after <= window
    return retry_after


def assert_retry_after_header(response: httpx.Response) -> None:
    """The contract: ``Retry-After`` header equal to the body's ``retry_after``."""
    assert response.headers.get("retry-after") == str(response.json()["retry_after"]), (
        f"429 without a matching Retry-After header: headers={dict(response.headers)}"
    )


def refusal_lines(log: str) -> list[dict[str, Any]]:
    """The JSON objects of the origin refusal lines in a live server's log."""
    found = []
    for line in log.splitlines():
        if '"event": "origin_not_allowed"' in line and line.startswith("{"):
            found.append(json.loads(line))
    return found


async def wait_for_refusals(server: LiveServer, count: int) -> list[dict[str, Any]]:
    """The refusal lines, once ``count`` of them reached the log (5 s at most)."""
    for _ in range(100):
        lines = refusal_lines(server.log())
        if len(lines) >= count:
            return lines
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} refusal lines in:\n{server.log()[-2000:]}")


# --- throttling: each limit, shared by two processes ---------------------------------------


async def test_bootstrap_per_ip_limit_is_shared_by_two_processes_and_resets(
    live_server: StartServer, shop: Inbox, http: httpx.AsyncClient
) -> None:
    a, b = await two_processes(live_server, MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP="3/2s")

    statuses = [(await bootstrap(http, s, shop.widget_token)).status_code for s in (a, b, a)]
    assert statuses == [200, 200, 200]
    refused = await bootstrap(http, b, shop.widget_token)  # 4th in total, 2nd on b
    retry_after = throttled(refused, "bootstrap_per_ip", window=2)
    assert (await bootstrap(http, a, shop.widget_token)).status_code == 429

    await asyncio.sleep(retry_after + 0.2)
    assert (await bootstrap(http, b, shop.widget_token)).status_code == 200
    assert (await bootstrap(http, a, shop.widget_token)).status_code == 200
    assert_retry_after_header(refused)


async def test_bootstrap_per_token_limit_counts_the_inbox_whatever_the_address(
    live_server: StartServer, db_session: AsyncSession, shop: Inbox, http: httpx.AsyncClient
) -> None:
    """Past the per-inbox bucket a new session must solve the challenge (never a 429: see
    ``tests/live/test_widget_limits.py``), until the window resets."""
    other = await make_inbox(db_session, name="Other", domains=["shop.example"])
    a, b = await two_processes(
        live_server,
        MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN="3/2s",
        MESSENGER_TRUSTED_PROXIES="127.0.0.1",
        MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER="1000",
    )

    def from_ip(n: int) -> dict[str, str]:  # a different client address every time
        return {**HEADERS, "X-Forwarded-For": f"203.0.113.{n}"}

    for n, server in enumerate((a, b, a), start=1):
        response = await bootstrap(http, server, shop.widget_token, headers=from_ip(n))
        assert response.status_code == 200, response.text
    challenge_of(await bootstrap(http, b, shop.widget_token, headers=from_ip(4)))
    # Another inbox has its own budget.
    assert (await bootstrap(http, a, other.widget_token, headers=from_ip(5))).status_code == 200

    async def reset() -> bool:
        response = await bootstrap(http, a, shop.widget_token, headers=from_ip(6))
        return response.status_code == 200

    await eventually(reset, within=5, interval=0.25)


async def test_send_per_session_limit_is_shared_by_two_processes_and_resets(
    live_server: StartServer, shop: Inbox, http: httpx.AsyncClient
) -> None:
    a, b = await two_processes(live_server, MESSENGER_WIDGET_SEND_RATE_PER_SESSION="3/2s")
    token = await new_session(http, a, shop.widget_token)
    other = await new_session(http, b, shop.widget_token)

    statuses = [(await send(http, s, token, f"m{i}")).status_code for i, s in enumerate((a, b, a))]
    assert statuses == [201, 201, 201]
    refused = await send(http, b, token, "m3")
    retry_after = throttled(refused, "send_per_session", window=2)
    # Per session: another visitor from the same address may still write.
    assert (await send(http, a, other, "o1")).status_code == 201

    await asyncio.sleep(retry_after + 0.2)
    assert (await send(http, b, token, "m4")).status_code == 201
    assert_retry_after_header(refused)


async def test_send_per_ip_limit_is_shared_by_two_processes_and_resets(
    live_server: StartServer, shop: Inbox, http: httpx.AsyncClient
) -> None:
    a, b = await two_processes(live_server, MESSENGER_WIDGET_SEND_RATE_PER_IP="3/2s")
    first = await new_session(http, a, shop.widget_token)
    second = await new_session(http, b, shop.widget_token)

    assert (await send(http, a, first, "f1")).status_code == 201
    assert (await send(http, b, second, "s1")).status_code == 201
    assert (await send(http, a, first, "f2")).status_code == 201
    refused = await send(http, b, second, "s2")  # a fresh session, but the same address
    retry_after = throttled(refused, "send_per_ip", window=2)

    await asyncio.sleep(retry_after + 0.2)
    assert (await send(http, b, second, "s3")).status_code == 201
    assert_retry_after_header(refused)


async def test_poll_per_session_limit_is_shared_by_two_processes_and_resets(
    live_server: StartServer, shop: Inbox, http: httpx.AsyncClient
) -> None:
    a, b = await two_processes(
        live_server,
        MESSENGER_WIDGET_POLL_RATE_PER_SESSION="3/2s",
        MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS="0.05",
    )
    token = await new_session(http, a, shop.widget_token)
    other = await new_session(http, a, shop.widget_token)

    statuses = []
    for server in (a, b, a):
        statuses.append((await poll(http, server, token)).status_code)
        await asyncio.sleep(0.1)  # past the minimum gap: only the window counts here
    assert statuses == [200, 200, 200]
    refused = await poll(http, b, token)
    retry_after = throttled(refused, "poll_per_session", window=2)
    assert (await poll(http, b, other)).status_code == 200

    await asyncio.sleep(retry_after + 0.2)
    assert (await poll(http, a, token)).status_code == 200
    assert_retry_after_header(refused)


async def test_poll_minimum_interval_is_shared_by_two_processes(
    live_server: StartServer, shop: Inbox, http: httpx.AsyncClient
) -> None:
    a, b = await two_processes(live_server, MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS="1.5")
    token = await new_session(http, a, shop.widget_token)
    other = await new_session(http, a, shop.widget_token)

    assert (await poll(http, a, token)).status_code == 200
    refused = await poll(http, b, token)  # right away, through the other process
    retry_after = throttled(refused, "poll_min_interval", window=2)
    assert (await poll(http, b, other)).status_code == 200  # the gap is per session

    await asyncio.sleep(retry_after + 0.1)
    assert (await poll(http, b, token)).status_code == 200
    assert_retry_after_header(refused)


# --- X-Forwarded-For ------------------------------------------------------------------------


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    live_server: StartServer, shop: Inbox, http: httpx.AsyncClient
) -> None:
    server = await one_process(live_server, MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP="3/2s")

    statuses = []
    for n in range(1, 5):  # a new "address" every time: all of them are really 127.0.0.1
        headers = {**HEADERS, "X-Forwarded-For": f"203.0.113.{n}"}
        statuses.append(
            (await bootstrap(http, server, shop.widget_token, headers=headers)).status_code
        )
    assert statuses == [200, 200, 200, 429]

    foreign = {"Origin": "https://evil.example", "X-Forwarded-For": "198.51.100.9"}
    assert (await bootstrap(http, server, shop.widget_token, headers=foreign)).status_code == 403
    [line] = await wait_for_refusals(server, 1)
    assert line["client_ip"] == "127.0.0.1"


async def test_forwarded_for_from_a_trusted_proxy_gives_each_client_its_own_budget(
    live_server: StartServer, shop: Inbox, http: httpx.AsyncClient
) -> None:
    server = await one_process(
        live_server,
        MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP="3/2s",
        MESSENGER_TRUSTED_PROXIES="127.0.0.1",
    )

    def via_proxy(chain: str) -> dict[str, str]:
        return {**HEADERS, "X-Forwarded-For": chain}

    first = [
        (await bootstrap(http, server, shop.widget_token, headers=via_proxy("203.0.113.10")))
        for _ in range(4)
    ]
    assert [r.status_code for r in first] == [200, 200, 200, 429]
    throttled(first[-1], "bootstrap_per_ip", window=2)
    # A hop the client wrote itself in front does not buy a new budget.
    spoofed = await bootstrap(
        http, server, shop.widget_token, headers=via_proxy("192.0.2.1, 203.0.113.10")
    )
    assert spoofed.status_code == 429
    # Another client behind the same proxy has a budget of its own, and so has the proxy.
    for _ in range(3):
        response = await bootstrap(
            http, server, shop.widget_token, headers=via_proxy("203.0.113.11")
        )
        assert response.status_code == 200, response.text
    assert (await bootstrap(http, server, shop.widget_token)).status_code == 200

    foreign = {"Origin": "https://evil.example", "X-Forwarded-For": "198.51.100.9"}
    assert (await bootstrap(http, server, shop.widget_token, headers=foreign)).status_code == 403
    [line] = await wait_for_refusals(server, 1)
    assert line["client_ip"] == "198.51.100.9"


# --- proof-of-work challenge ----------------------------------------------------------------


def solve(challenge: dict[str, Any], **tamper: Any) -> str:
    solution = solve_challenge_v1(
        challenge["challenge"],
        challenge["salt"],
        challenge["algorithm"],
        challenge["maxnumber"],
        0,
    )
    assert solution is not None
    payload = {
        "algorithm": challenge["algorithm"],
        "challenge": challenge["challenge"],
        "number": solution.number,
        "salt": challenge["salt"],
        "signature": challenge["signature"],
    }
    payload.update(tamper)
    return base64.b64encode(json.dumps(payload).encode()).decode()


def challenge_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 428, (response.status_code, response.text)
    body = response.json()
    assert body["error"] == "challenge_required"
    assert body["detail"]
    challenge = body["challenge"]
    assert set(challenge) >= {"algorithm", "challenge", "maxnumber", "salt", "signature"}
    assert challenge["maxnumber"] <= 1000
    return challenge


async def test_challenge_is_required_solvable_and_single_use_across_processes(
    live_server: StartServer, shop: Inbox, http: httpx.AsyncClient
) -> None:
    a, b = await two_processes(
        live_server,
        MESSENGER_WIDGET_CHALLENGE_THRESHOLD="0",
        MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER="1000",
    )
    token = shop.widget_token

    solution = solve(challenge_of(await bootstrap(http, a, token)))
    solved = await bootstrap(http, a, token, challenge_solution=solution)
    assert solved.status_code == 200, solved.text
    assert solved.json()["session_token"]
    # Replayed: in the same process and in the other one.
    challenge_of(await bootstrap(http, a, token, challenge_solution=solution))
    challenge_of(await bootstrap(http, b, token, challenge_solution=solution))

    # A solution spent on b first is refused on a.
    second = solve(challenge_of(await bootstrap(http, b, token)))
    assert (await bootstrap(http, b, token, challenge_solution=second)).status_code == 200
    challenge_of(await bootstrap(http, a, token, challenge_solution=second))

    # A restored session is not a new one: no challenge.
    restored = await bootstrap(http, b, token, session_token=solved.json()["session_token"])
    assert restored.status_code == 200, restored.text


async def test_garbage_and_tampered_challenge_solutions_are_refused(
    live_server: StartServer, shop: Inbox, http: httpx.AsyncClient
) -> None:
    server = await one_process(
        live_server,
        MESSENGER_WIDGET_CHALLENGE_THRESHOLD="0",
        MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER="1000",
    )
    token = shop.widget_token
    challenge = challenge_of(await bootstrap(http, server, token))
    good = json.loads(base64.b64decode(solve(challenge)))

    def encoded(document: Any) -> str:
        return base64.b64encode(json.dumps(document).encode()).decode()

    attempts = {
        "garbage": "not a solution at all",
        "not json": base64.b64encode(b"\x00\x01garbage").decode(),
        "json list": encoded([1, 2, 3]),
        "wrong number": encoded({**good, "number": good["number"] + 1}),
        "forged signature": encoded({**good, "signature": "0" * 64}),
        "other salt": encoded({**good, "salt": good["salt"] + "x"}),
        "no signature": encoded({k: v for k, v in good.items() if k != "signature"}),
    }
    for name, attempt in attempts.items():
        response = await bootstrap(http, server, token, challenge_solution=attempt)
        assert response.status_code == 428, (name, response.status_code, response.text)
    # None of those spent the real solution.
    assert (
        await bootstrap(http, server, token, challenge_solution=encoded(good))
    ).status_code == 200


# --- notes never reach the visitor -----------------------------------------------------------


@asynccontextmanager
async def open_stream(
    http: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> AsyncIterator[SSEStream]:
    async with SSEStream(http, url, headers=headers, params=None) as stream:
        assert stream.response is not None
        assert stream.response.status_code == 200, stream.response.text[:500]
        await stream.connected()
        yield stream


async def test_notes_never_reach_bootstrap_poll_or_stream(
    live_server: StartServer,
    db_session: AsyncSession,
    settings: Settings,
    http: httpx.AsyncClient,
) -> None:
    branch = await make_branch(db_session, "Moscow")
    operator = await make_user(db_session, [branch], email="olga@example.com", name="Olga")
    inbox = await make_inbox(db_session, name="Shop", branch=branch, domains=["shop.example"])
    server = await one_process(live_server)
    token = await new_session(http, server, inbox.widget_token)
    assert (await send(http, server, token, "v1")).status_code == 201
    conversation = await db_session.scalar(select(Conversation))
    assert conversation is not None

    backends = Backends.from_settings(settings)
    try:
        async with backends.channels:
            links = AttachmentLinks(settings.require_secret_key())
            publisher = Publisher(backends.channels, settings.redis_prefix, links)
            service = ConversationService(session=db_session)
            async with open_stream(http, f"{server.url}/api/widget/stream", auth(token)) as stream:
                note = await service.add_note(conversation, operator, "SECRET-NOTE internal")
                await db_session.commit()
                await publisher.publish(take_committed(db_session))
                # Even an envelope that (wrongly) addresses the visitor is dropped by the stream.
                await backends.channels.wait_published(
                    encode(
                        Envelope(
                            event="message",
                            data={
                                "id": note.id,
                                "conversation_id": str(conversation.id),
                                "sender": "operator",
                                "kind": "note",
                                "body": note.body,
                            },
                            visitor_id=str(conversation.visitor_id),
                            conversation_id=str(conversation.id),
                            id=note.id,
                            audience="both",
                        )
                    ),
                    [visitor_channel(settings.redis_prefix, conversation.visitor_id)],
                )
                reply, _ = await service.reply(conversation, operator, "Operator reply")
                await db_session.commit()
                await publisher.publish(take_committed(db_session))
                await stream.wait_for(lambda s: reply.id in s.message_ids())
                live = stream.messages()
                live_ids = [item.id for item in stream.events("message")]
            # A reconnect replaying everything from the start.
            replay_headers = auth(token, **{"Last-Event-ID": "0"})
            async with open_stream(
                http, f"{server.url}/api/widget/stream", replay_headers
            ) as again:
                await again.wait_for(lambda s: reply.id in s.message_ids())
                replayed = again.messages()
    finally:
        await backends.close()

    assert [m["body"] for m in live] == ["Operator reply"]
    assert str(note.id) not in live_ids
    assert [m["body"] for m in replayed] == ["message v1", "Operator reply"]

    polled = await poll(http, server, token)
    assert polled.status_code == 200, polled.text
    assert [m["body"] for m in polled.json()["messages"]] == ["message v1", "Operator reply"]
    restored = await bootstrap(http, server, inbox.widget_token, session_token=token)
    assert restored.status_code == 200, restored.text
    assert [m["body"] for m in restored.json()["messages"]] == ["message v1", "Operator reply"]
    for response in (polled, restored):
        assert "SECRET-NOTE" not in response.text
        assert note.id not in [m["id"] for m in response.json()["messages"]]
