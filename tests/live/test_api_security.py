"""Widget API security at the edge, against real PostgreSQL and Redis.

The origin allowlist (``Origin``, else ``Referer``; lookalikes refused) and its log line,
CORS preflights, bad bodies, the feature flag, and sessions: forged or foreign tokens,
visitors who must never reach each other's conversations, signed attachment links.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.backends import Backends
from messenger.config import Settings
from messenger.db.models import Conversation, Inbox
from messenger.realtime.events import Envelope, encode, visitor_channel
from tests.support.app import app_client
from tests.support.factories import make_inbox
from tests.support.servers import LiveServer
from tests.support.sse import SSEStream
from tests.support.widget import visitor_of

SHOP = "https://shop.example"


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


ATTACHMENTS = {"attachments": {"enabled": True, "max_bytes": 4096, "content_types": ["image/png"]}}


# --- fixtures and helpers ------------------------------------------------------------------


@dataclass
class Inboxes:
    shop: Inbox  # shop.example, 127.0.0.1 and *.shop.example
    other: Inbox  # other.example


@pytest.fixture
async def inboxes(db_session: AsyncSession) -> Inboxes:
    shop = await make_inbox(
        db_session,
        name="Shop",
        domains=["shop.example", "*.shop.example", "127.0.0.1"],
        settings=ATTACHMENTS,
    )
    other = await make_inbox(
        db_session, name="Other", domains=["other.example"], settings=ATTACHMENTS
    )
    return Inboxes(shop=shop, other=other)


@pytest.fixture
def app_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env, **ROOMY, "MESSENGER_DATA_DIR": str(tmp_path)}


@pytest.fixture
async def client(app_env: dict[str, str], inboxes: Inboxes) -> AsyncIterator[AsyncTestClient]:
    async with app_client(Settings.from_env(app_env)) as test_client:
        yield test_client


def auth(session_token: str, origin: str = SHOP) -> dict[str, str]:
    return {"Origin": origin, "Authorization": f"Bearer {session_token}"}


async def bootstrap(
    client: httpx.AsyncClient,
    widget_token: str,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> httpx.Response:
    return await client.post(
        "/api/widget/bootstrap",
        json={"widget_token": widget_token, **fields},
        headers={"Origin": SHOP} if headers is None else headers,
    )


async def session_for(
    client: httpx.AsyncClient, inbox: Inbox, origin: str = SHOP
) -> dict[str, Any]:
    response = await bootstrap(client, inbox.widget_token, headers={"Origin": origin})
    assert response.status_code == 200, response.text
    return response.json()


async def send(
    client: httpx.AsyncClient, session_token: str, body: str, origin: str = SHOP, **extra: Any
) -> httpx.Response:
    return await client.post(
        "/api/widget/messages",
        json={"body": body, "client_msg_id": uuid.uuid4().hex, **extra},
        headers=auth(session_token, origin),
    )


def assert_json_error(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    if status is not None:
        assert response.status_code == status, (response.status_code, response.text)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body["error"], str), body
    assert body["error"]
    assert isinstance(body["detail"], str), body
    assert body["detail"]
    return body


async def test_an_oversized_chunked_body_is_413_on_a_live_server(
    live_server: Callable[..., LiveServer], inboxes: Inboxes
) -> None:
    """No Content-Length to check up front: the limit must hold while the body streams in."""
    server = await asyncio.to_thread(live_server, **ROOMY)

    async def chunked(document: dict[str, Any]) -> AsyncIterator[bytes]:
        data = json.dumps(document).encode()
        for i in range(0, len(data), 8192):
            yield data[i : i + 8192]

    big = "x" * (100 * 1024)
    async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as http:
        token = (await session_for(http, inboxes.shop))["session_token"]
        to_bootstrap = chunked({"widget_token": inboxes.shop.widget_token, "page_url": big})
        refused = await http.post(
            "/api/widget/bootstrap",
            content=to_bootstrap,
            headers={"Origin": SHOP, "Content-Type": "application/json"},
        )
        assert_json_error(refused, 413)
        refused = await http.post(
            "/api/widget/messages",
            content=chunked({"body": big, "client_msg_id": "big"}),
            headers={**auth(token), "Content-Type": "application/json"},
        )
        assert_json_error(refused, 413)
        fine = await http.post(
            "/api/widget/messages",
            content=chunked({"body": "small", "client_msg_id": "small"}),
            headers={**auth(token), "Content-Type": "application/json"},
        )
        assert fine.status_code == 201, fine.text


# --- visitors never reach each other (live process: real streams) ---------------------------


@asynccontextmanager
async def open_stream(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], **params: str
) -> AsyncIterator[SSEStream]:
    async with SSEStream(http, url, headers=headers, params=params) as stream:
        assert stream.response is not None
        assert stream.response.status_code == 200, stream.response.text[:500]
        await stream.connected()
        yield stream


async def test_a_visitor_never_sees_another_visitors_conversation(
    live_server: Callable[..., LiveServer],
    inboxes: Inboxes,
    settings: Settings,
    db_session: AsyncSession,
) -> None:
    server = await asyncio.to_thread(live_server, **ROOMY)
    stream_url = f"{server.url}/api/widget/stream"
    async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as http:
        alice = (await session_for(http, inboxes.shop))["session_token"]
        first = await send(http, alice, "ALICE-PRIVATE-1")
        assert first.status_code == 201, first.text
        bob_start = await session_for(http, inboxes.shop)
        bob = bob_start["session_token"]
        conversation = await db_session.scalar(select(Conversation))
        assert conversation is not None

        polled = await http.get("/api/widget/messages", params={"after": 0}, headers=auth(bob))
        assert polled.status_code == 200
        assert polled.json() == {"messages": [], "conversation": None}
        read = await http.post(
            "/api/widget/read", json={"up_to_id": first.json()["id"]}, headers=auth(bob)
        )
        assert read.json() == {"up_to_id": None}

        backends = Backends.from_settings(settings)
        try:
            async with (
                backends.channels,
                open_stream(
                    http, stream_url, {"Origin": SHOP}, ticket=bob_start["stream_ticket"]
                ) as by_ticket,
                open_stream(http, stream_url, {**auth(bob), "Last-Event-ID": "0"}) as replaying,
            ):
                # The ticket was single use.
                again = await http.get(
                    stream_url,
                    params={"ticket": bob_start["stream_ticket"]},
                    headers={"Origin": SHOP},
                )
                assert_json_error(again, 401)
                assert (await send(http, alice, "ALICE-PRIVATE-2")).status_code == 201
                # Alice's message pushed straight onto Bob's shard channel: still not Bob's.
                await backends.channels.wait_published(
                    encode(
                        Envelope(
                            event="message",
                            data=first.json(),
                            visitor_id=str(conversation.visitor_id),
                            conversation_id=str(conversation.id),
                            id=first.json()["id"],
                        )
                    ),
                    [visitor_channel(settings.redis_prefix, visitor_of(bob)[1])],
                )
                mine = await send(http, bob, "BOB-OWN")
                assert mine.status_code == 201, mine.text
                mine_id = str(mine.json()["id"])
                for stream in (by_ticket, replaying):
                    await stream.wait_for(lambda s: mine_id in [e.id for e in s.items])
        finally:
            await backends.close()

        for stream in (by_ticket, replaying):
            bodies = [m["body"] for m in stream.messages()]
            assert "ALICE-PRIVATE-1" not in bodies
            assert "ALICE-PRIVATE-2" not in bodies
            assert bodies == ["BOB-OWN"]
        polled = await http.get("/api/widget/messages", params={"after": 0}, headers=auth(bob))
        assert [m["body"] for m in polled.json()["messages"]] == ["BOB-OWN"]
        assert polled.json()["conversation"]["id"] != str(conversation.id)
