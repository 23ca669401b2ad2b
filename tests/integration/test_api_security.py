"""Widget API security at the edge, against real PostgreSQL and Redis.

The origin allowlist (``Origin``, else ``Referer``; lookalikes refused) and its log line,
CORS preflights, bad bodies, the feature flag, and sessions: forged or foreign tokens,
visitors who must never reach each other's conversations, signed attachment links.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.links import AttachmentLinks
from messenger.config import Settings
from messenger.db.models import Attachment, Conversation, Inbox, Message
from messenger.logs import JsonFormatter
from messenger.widget.sessions import SessionSigner
from tests.support.app import app_client
from tests.support.env import TEST_SECRET
from tests.support.factories import make_inbox
from tests.support.widget import visitor_of

SHOP = "https://shop.example"


OTHER = "https://other.example"


EVIL = "https://evil.example"


SECURITY_LOGGER = "messenger.widget.security"


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


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(32))


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


@pytest.fixture
def security_log(caplog: pytest.LogCaptureFixture) -> Callable[[], list[dict[str, Any]]]:
    """The structured fields logged on ``messenger.widget.security`` so far (each record
    becomes one JSON line through messenger.logs.JsonFormatter)."""
    caplog.set_level(logging.INFO, logger=SECURITY_LOGGER)
    fields = ("event", "inbox_id", "origin", "referer", "client_ip", "endpoint", "reason")

    def lines() -> list[dict[str, Any]]:
        return [
            {name: getattr(r, name) for name in fields}
            for r in caplog.records
            if r.name == SECURITY_LOGGER
        ]

    return lines


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


def tampered(session_token: str) -> str:
    head, payload, signature = session_token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{head}.{payload}.{flipped}"


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


def assert_origin_refused(response: httpx.Response) -> None:
    body = assert_json_error(response, 403)
    assert body["error"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in response.headers


async def count(db_session: AsyncSession, model: Any) -> int:
    return int(await db_session.scalar(select(func.count()).select_from(model)) or 0)


# --- origin allowlist ----------------------------------------------------------------------


async def test_bootstrap_from_a_foreign_origin_is_refused_and_logged_once(
    client: AsyncTestClient, inboxes: Inboxes, security_log: Callable[[], list[dict[str, Any]]]
) -> None:
    response = await bootstrap(client, inboxes.shop.widget_token, headers={"Origin": EVIL})

    assert_origin_refused(response)
    assert security_log() == [
        {
            "event": "origin_not_allowed",
            "inbox_id": inboxes.shop.id,
            "origin": EVIL,
            "referer": None,
            "client_ip": "testclient",
            "endpoint": "POST /api/widget/bootstrap",
            "reason": "origin_not_in_allowlist",
        }
    ]


async def test_session_calls_from_a_foreign_origin_are_refused_and_logged_without_token(
    client: AsyncTestClient,
    inboxes: Inboxes,
    db_session: AsyncSession,
    security_log: Callable[[], list[dict[str, Any]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = await session_for(client, inboxes.shop)
    token, ticket = started["session_token"], started["stream_ticket"]
    foreign = auth(token, EVIL)
    form = {"name": "Eve", "email": "eve@example.com", "body": "hi", "client_msg_id": "o1"}
    calls: dict[str, Callable[[], Any]] = {
        "POST /api/widget/messages": lambda: client.post(
            "/api/widget/messages", json={"body": "hi", "client_msg_id": "c1"}, headers=foreign
        ),
        "GET /api/widget/messages": lambda: client.get("/api/widget/messages", headers=foreign),
        "POST /api/widget/typing": lambda: client.post(
            "/api/widget/typing", json={"typing": True}, headers=foreign
        ),
        "POST /api/widget/read": lambda: client.post(
            "/api/widget/read", json={"up_to_id": 1}, headers=foreign
        ),
        "POST /api/widget/stream/ticket": lambda: client.post(
            "/api/widget/stream/ticket", headers=foreign
        ),
        "GET /api/widget/stream": lambda: client.get("/api/widget/stream", headers=foreign),
        "POST /api/widget/attachments": lambda: client.post(
            "/api/widget/attachments", files={"file": ("a.png", PNG, "image/png")}, headers=foreign
        ),
        "POST /api/widget/offline": lambda: client.post(
            "/api/widget/offline", json=form, headers=foreign
        ),
    }
    for endpoint, call in calls.items():
        response = await call()
        assert response.status_code == 403, (endpoint, response.status_code, response.text)
        assert_origin_refused(response)
    by_ticket = await client.get(
        "/api/widget/stream", params={"ticket": ticket}, headers={"Origin": EVIL}
    )
    assert_origin_refused(by_ticket)

    lines = security_log()
    assert [line["endpoint"] for line in lines] == [*calls, "GET /api/widget/stream"]
    for line in lines:
        assert line["inbox_id"] == inboxes.shop.id
        assert line["origin"] == EVIL
        assert line["client_ip"] == "testclient"
        assert line["reason"] == "origin_not_in_allowlist"
    logged = "\n".join(
        JsonFormatter().format(r) for r in caplog.records if r.name == SECURITY_LOGGER
    )
    assert token not in logged
    assert token.split(".")[2] not in logged
    assert ticket not in logged
    # Refused means nothing happened.
    assert await count(db_session, Conversation) == 0
    assert await count(db_session, Attachment) == 0


async def test_referer_decides_when_there_is_no_origin(
    client: AsyncTestClient, inboxes: Inboxes, security_log: Callable[[], list[dict[str, Any]]]
) -> None:
    widget_token = inboxes.shop.widget_token

    foreign = await bootstrap(client, widget_token, headers={"Referer": f"{EVIL}/page"})
    assert_origin_refused(foreign)
    allowed = await bootstrap(client, widget_token, headers={"Referer": f"{SHOP}/cart?item=1"})
    assert allowed.status_code == 200, allowed.text
    token = allowed.json()["session_token"]
    sent = await client.post(
        "/api/widget/messages",
        json={"body": "from a page", "client_msg_id": "r1"},
        headers={"Referer": f"{SHOP}/cart", "Authorization": f"Bearer {token}"},
    )
    assert sent.status_code == 201, sent.text
    neither = await bootstrap(client, widget_token, headers={})
    assert_origin_refused(neither)
    neither_on_session = await client.get(
        "/api/widget/messages", headers={"Authorization": f"Bearer {token}"}
    )
    assert_origin_refused(neither_on_session)
    # Origin, when present, wins over an allowed Referer.
    both = await bootstrap(client, widget_token, headers={"Origin": EVIL, "Referer": f"{SHOP}/"})
    assert_origin_refused(both)

    reasons = [(line["reason"], line["origin"], line["referer"]) for line in security_log()]
    assert reasons == [
        ("referer_not_in_allowlist", None, f"{EVIL}/page"),
        ("no_origin_or_referer", None, None),
        ("no_origin_or_referer", None, None),
        ("origin_not_in_allowlist", EVIL, f"{SHOP}/"),
    ]


LOOKALIKES = [
    "https://evil-shop.example",
    "https://shop.example.evil.net",
    "https://shopexample",
    "https://shop-example.com",
    "http://shop.example@evil.net",
    "https://shop.example:443@evil.net",
    "https://user:pw@shop.example",
    "ftp://shop.example",
    "javascript://shop.example",
    "null",
    "shop.example",
    "https://evil.net/?https://shop.example",
    "http://127.1",
    "http://0x7f.0.0.1",
    "http://2130706433",
    "http://0177.0.0.1",
    "http://127.0.0.1.nip.io",
    "http://[::ffff:127.0.0.1]",
    "https://xn--shp-qla.example",  # "shöp.example"
    "https://other.example",  # allowed, but for another inbox
]


async def test_lookalike_origins_and_referers_are_refused(
    client: AsyncTestClient, inboxes: Inboxes
) -> None:
    widget_token = inboxes.shop.widget_token
    let_through = []
    for value in LOOKALIKES:
        for header in ("Origin", "Referer"):
            response = await bootstrap(client, widget_token, headers={header: value})
            if response.status_code != 403 or response.json().get("error") != "origin_not_allowed":
                let_through.append((header, value, response.status_code))
    assert let_through == []

    for value in (
        SHOP,
        "http://shop.example:8080",
        "https://a.b.shop.example",
        "http://127.0.0.1:3000",
    ):
        response = await bootstrap(client, widget_token, headers={"Origin": value})
        assert response.status_code == 200, (value, response.text)
        assert response.headers["access-control-allow-origin"] == value


# --- CORS ------------------------------------------------------------------------------------


def preflight_headers(origin: str | None) -> dict[str, str]:
    headers = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    if origin is not None:
        headers["Origin"] = origin
    return headers


async def test_preflight_from_a_foreign_origin_is_refused_and_logged(
    client: AsyncTestClient, security_log: Callable[[], list[dict[str, Any]]]
) -> None:
    for origin, path in (
        (EVIL, "/api/widget/bootstrap"),
        ("https://evil-shop.example", "/api/widget/messages"),
        ("http://shop.example@evil.net", "/api/widget/stream"),
        (None, "/api/widget/bootstrap"),
    ):
        response = await client.options(path, headers=preflight_headers(origin))
        assert_origin_refused(response)
        assert "Origin" in response.headers.get("vary", "")

    lines = security_log()
    assert len(lines) == 4
    assert lines[0] == {
        "event": "origin_not_allowed",
        "inbox_id": None,
        "origin": EVIL,
        "referer": None,
        "client_ip": "testclient",
        "endpoint": "OPTIONS /api/widget/bootstrap",
        "reason": "preflight_origin_not_allowed",
    }
    assert lines[3]["reason"] == "preflight_without_origin"


async def test_preflight_from_an_allowed_origin_echoes_exactly_that_origin(
    client: AsyncTestClient, inboxes: Inboxes
) -> None:
    for origin in (SHOP, "http://shop.example:8080", OTHER):
        response = await client.options("/api/widget/messages", headers=preflight_headers(origin))
        assert response.status_code == 204, response.text
        assert response.headers["access-control-allow-origin"] == origin
        assert response.headers.get_list("access-control-allow-origin") == [origin]
        assert "Origin" in response.headers["vary"]
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "authorization" in response.headers["access-control-allow-headers"].lower()
        assert response.headers.get("access-control-allow-credentials") in (None, "false")

    # Real responses echo the caller's allowed origin, never "*", and nothing when refused.
    allowed = await bootstrap(client, inboxes.shop.widget_token)
    assert allowed.headers["access-control-allow-origin"] == SHOP
    assert "Origin" in allowed.headers["vary"]
    cross = await bootstrap(client, inboxes.shop.widget_token, headers={"Origin": OTHER})
    assert_origin_refused(cross)


# --- bodies ----------------------------------------------------------------------------------

Case = tuple[str, str, str, dict[str, Any], int | None]


def case(name: str, call: str, status: int | None = None, **kwargs: Any) -> Case:
    """``call`` is ``"POST messages"``: a method and a path under /api/widget/."""
    method, _, path = call.partition(" ")
    return name, method, f"/api/widget/{path}", kwargs, status


async def refusals_that_are_not_json_4xx(client: httpx.AsyncClient, cases: list[Case]) -> str:
    """Every case that did not get a 4xx JSON error (with the expected status, if any)."""
    problems = []
    for name, method, url, kwargs, status in cases:
        response = await client.request(method, url, **kwargs)
        try:
            assert_json_error(response, status)
        except (AssertionError, KeyError, ValueError):
            problems.append(f"{name}: {response.status_code} {response.text[:150]}")
    return "\n".join(problems)


async def test_oversized_and_malformed_bodies_are_json_4xx_never_500(
    client: AsyncTestClient, inboxes: Inboxes, db_session: AsyncSession
) -> None:
    widget_token = inboxes.shop.widget_token
    token = (await session_for(client, inboxes.shop))["session_token"]
    site = {"Origin": SHOP}
    raw = {"Origin": SHOP, "Content-Type": "application/json"}
    user = auth(token)
    user_raw = {**user, "Content-Type": "application/json"}
    big = "x" * (65 * 1024)
    msg = {"body": "hi", "client_msg_id": "m1"}
    form = {"name": "A", "email": "a@example.com", "body": "x", "client_msg_id": "o1"}

    cases = [
        case("bootstrap > 64 KiB", "POST bootstrap", 413,
             json={"widget_token": widget_token, "page_url": big}, headers=site),
        case("send > 64 KiB", "POST messages", 413, json={**msg, "body": big}, headers=user),
        case("send 10,001 chars", "POST messages",
             json={**msg, "body": "y" * 10_001}, headers=user),
        case("send unknown field", "POST messages",
             json={**msg, "sender": "operator"}, headers=user),
        case("send wrong type", "POST messages", json={**msg, "body": 5}, headers=user),
        case("send null body", "POST messages", json={**msg, "body": None}, headers=user),
        case("send bad client_msg_id", "POST messages",
             json={**msg, "client_msg_id": "a b<i>"}, headers=user),
        case("send long client_msg_id", "POST messages",
             json={**msg, "client_msg_id": "c" * 65}, headers=user),
        case("send blank body", "POST messages", json={**msg, "body": " \n "}, headers=user),
        case("send 11 attachments", "POST messages",
             json={**msg, "attachment_ids": [str(uuid.uuid4())] * 11}, headers=user),
        case("send bad attachment id", "POST messages",
             json={**msg, "attachment_ids": ["../../etc/passwd"]}, headers=user),
        case("send invalid JSON", "POST messages", content=b'{"body": "hi", ', headers=user_raw),
        case("send JSON list", "POST messages", content=b"[]", headers=user_raw),
        case("send empty body", "POST messages", content=b"", headers=user_raw),
        case("send NaN", "POST messages", content=b'{"body": NaN}', headers=user_raw),
        case("send lone surrogate", "POST messages",
             content=rb'{"body": "\ud800", "client_msg_id": "s1"}', headers=user_raw),
        case("bootstrap unknown field", "POST bootstrap",
             json={"widget_token": widget_token, "admin": True}, headers=site),
        case("bootstrap wrong type", "POST bootstrap",
             json={"widget_token": [widget_token]}, headers=site),
        case("bootstrap invalid JSON", "POST bootstrap", content=b"{not json", headers=raw),
        case("bootstrap without token", "POST bootstrap", json={}, headers=site),
        case("bootstrap unknown token", "POST bootstrap", 404,
             json={"widget_token": "nope"}, headers=site),
        case("typing wrong type", "POST typing", json={"typing": "maybe"}, headers=user),
        case("read negative", "POST read", json={"up_to_id": -1}, headers=user),
        case("read not a number", "POST read", json={"up_to_id": "abc"}, headers=user),
        case("poll negative", "GET messages?after=-1", headers=user),
        case("poll not a number", "GET messages?after=abc", headers=user),
        case("poll huge", f"GET messages?after={10**30}", headers=user),
        case("stream bad last_event_id", "GET stream?last_event_id=x", headers=user),
        case("offline missing fields", "POST offline", json={"name": "A"}, headers=user),
        case("offline unknown field", "POST offline", json={**form, "x": 1}, headers=user),
        case("offline body 10,001 chars", "POST offline",
             json={**form, "body": "z" * 10_001}, headers=user),
        case("upload not multipart", "POST attachments", json={"file": "x"}, headers=user),
    ]  # fmt: skip
    assert await refusals_that_are_not_json_4xx(client, cases) == ""
    assert await count(db_session, Conversation) == 0
    assert await count(db_session, Message) == 0


async def test_undecodable_or_unstorable_bodies_are_json_4xx_not_500(
    client: AsyncTestClient, inboxes: Inboxes, db_session: AsyncSession
) -> None:
    """Bodies msgspec cannot decode, or PostgreSQL cannot store, are still the client's fault."""
    token = (await session_for(client, inboxes.shop))["session_token"]
    raw = {"Origin": SHOP, "Content-Type": "application/json"}
    user = auth(token)
    deep = b'{"widget_token": "t", "locale": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    msg = {"body": "hi", "client_msg_id": "n2"}
    form = {"name": "A\u0000", "email": "a@example.com", "body": "x", "client_msg_id": "o1"}

    cases = [
        case("deeply nested JSON", "POST bootstrap", content=deep, headers=raw),
        case("invalid UTF-8", "POST bootstrap",
             content=b'{"widget_token": "\xff\xfe"}', headers=raw),
        case("NUL in a message", "POST messages",
             json={"body": "a\u0000b", "client_msg_id": "n1"}, headers=user),
        case("NUL in page_url", "POST messages",
             json={**msg, "page_url": f"{SHOP}/\u0000"}, headers=user),
        case("NUL in an offline name", "POST offline", json=form, headers=user),
    ]  # fmt: skip
    assert await refusals_that_are_not_json_4xx(client, cases) == ""
    assert await count(db_session, Message) == 0


# --- the feature flag --------------------------------------------------------------------------


async def test_disabled_messenger_answers_404_on_every_widget_path(
    app_env: dict[str, str], inboxes: Inboxes
) -> None:
    settings = Settings.from_env({**app_env, "MESSENGER_ENABLED": "0"})
    enabled = Settings.from_env(app_env)
    token = SessionSigner(enabled.require_secret_key()).issue(inboxes.shop.id, uuid.uuid4())
    headers = auth(token)
    async with app_client(settings) as client:
        calls = [
            (
                "POST",
                "/api/widget/bootstrap",
                {"json": {"widget_token": inboxes.shop.widget_token}},
            ),
            ("POST", "/api/widget/messages", {"json": {"body": "hi", "client_msg_id": "d1"}}),
            ("GET", "/api/widget/messages", {}),
            ("GET", "/api/widget/stream", {}),
            ("POST", "/api/widget/stream/ticket", {}),
            ("POST", "/api/widget/typing", {"json": {"typing": True}}),
            ("POST", "/api/widget/read", {"json": {"up_to_id": 1}}),
            ("POST", "/api/widget/attachments", {"files": {"file": ("a.png", PNG, "image/png")}}),
            ("POST", "/api/widget/offline", {"json": {"name": "A"}}),
            ("GET", f"/api/widget/attachments/{uuid.uuid4()}?exp=1&sig=x", {}),
            ("GET", "/api/widget/no-such-path", {}),
        ]
        for method, path, kwargs in calls:
            response = await client.request(method, path, headers=headers, **kwargs)
            assert_json_error(response, 404)
            assert "access-control-allow-origin" not in response.headers
        for path in ("/api/widget/bootstrap", "/api/widget/messages", "/api/widget/stream"):
            response = await client.options(path, headers=preflight_headers(SHOP))
            assert_json_error(response, 404)
            assert "access-control-allow-origin" not in response.headers
        assert (await client.get("/health")).status_code == 200


# --- sessions --------------------------------------------------------------------------------


async def test_forged_and_foreign_session_tokens_start_a_new_empty_session(
    client: AsyncTestClient, inboxes: Inboxes
) -> None:
    shop, other = inboxes.shop, inboxes.other
    alice = (await session_for(client, shop))["session_token"]
    assert (await send(client, alice, "ALICE-PRIVATE")).status_code == 201
    olga = (await session_for(client, other, OTHER))["session_token"]
    assert (await send(client, olga, "OTHER-PRIVATE", OTHER)).status_code == 201
    _, alice_visitor = visitor_of(alice)
    _, olga_visitor = visitor_of(olga)
    alice_payload = alice.split(".")[1]
    olga_head, _, olga_signature = olga.split(".")
    wrong_secret = SessionSigner("another-secret-" + "z" * 40).issue(
        shop.id, uuid.UUID(alice_visitor)
    )

    presented = {
        "changed signature": tampered(alice),
        "random string": "ws1.not-a-token.at-all",
        "payload with another signature": f"{olga_head}.{alice_payload}.{olga_signature}",
        "signed with another secret": wrong_secret,
        "token of another inbox": olga,
    }
    for name, session_token in presented.items():
        response = await bootstrap(client, shop.widget_token, session_token=session_token)
        assert response.status_code == 200, (name, response.text)
        body = response.json()
        inbox_id, visitor = visitor_of(body["session_token"])
        assert inbox_id == shop.id, name
        assert visitor not in (alice_visitor, olga_visitor), name
        assert body["conversation"] is None, name
        assert body["messages"] == [], name
        assert "PRIVATE" not in response.text, name

    restored = await bootstrap(client, shop.widget_token, session_token=alice)
    assert visitor_of(restored.json()["session_token"])[1] == alice_visitor
    assert [m["body"] for m in restored.json()["messages"]] == ["ALICE-PRIVATE"]


async def test_forged_bearer_tokens_are_401(client: AsyncTestClient, inboxes: Inboxes) -> None:
    alice = (await session_for(client, inboxes.shop))["session_token"]
    assert (await send(client, alice, "ALICE-PRIVATE")).status_code == 201
    _, alice_visitor = visitor_of(alice)
    forged = {
        "changed signature": tampered(alice),
        "random": "Zm9v.YmFy.YmF6",
        "signed with another secret": SessionSigner("another-secret-" + "z" * 40).issue(
            inboxes.shop.id, uuid.UUID(alice_visitor)
        ),
        "from the future": SessionSigner(TEST_SECRET).issue(
            inboxes.shop.id, uuid.UUID(alice_visitor), now=time.time() + 3600
        ),
        "expired": SessionSigner(TEST_SECRET).issue(
            inboxes.shop.id, uuid.UUID(alice_visitor), now=time.time() - 400 * 24 * 3600
        ),
    }
    for name, token in forged.items():
        for method, path, kwargs in (
            ("GET", "/api/widget/messages", {}),
            ("POST", "/api/widget/messages", {"json": {"body": "x", "client_msg_id": "f1"}}),
            ("POST", "/api/widget/stream/ticket", {}),
            ("GET", "/api/widget/stream", {}),
        ):
            response = await client.request(method, path, headers=auth(token), **kwargs)
            assert response.status_code == 401, (name, path, response.status_code, response.text)
            assert_json_error(response, 401)
            assert "ALICE-PRIVATE" not in response.text
    for headers in (
        {"Origin": SHOP},
        {"Origin": SHOP, "Authorization": "Bearer"},
        {"Origin": SHOP, "Authorization": f"Basic {alice}"},
    ):
        assert_json_error(await client.get("/api/widget/messages", headers=headers), 401)
    # The session token itself is not a stream ticket.
    by_token = await client.get(
        "/api/widget/stream", params={"ticket": alice}, headers={"Origin": SHOP}
    )
    assert_json_error(by_token, 401)


async def test_a_session_of_one_inbox_is_refused_from_another_inbox_site(
    client: AsyncTestClient, inboxes: Inboxes, db_session: AsyncSession
) -> None:
    alice = (await session_for(client, inboxes.shop))["session_token"]
    assert (await send(client, alice, "ALICE-PRIVATE")).status_code == 201
    messages_before = await count(db_session, Message)

    for method, path, kwargs in (
        ("GET", "/api/widget/messages", {}),
        ("POST", "/api/widget/messages", {"json": {"body": "x", "client_msg_id": "x1"}}),
        ("POST", "/api/widget/stream/ticket", {}),
        ("GET", "/api/widget/stream", {}),
        ("POST", "/api/widget/read", {"json": {"up_to_id": 10**6}}),
    ):
        response = await client.request(method, path, headers=auth(alice, OTHER), **kwargs)
        assert response.status_code in (401, 403), (path, response.status_code, response.text)
        assert_json_error(response)
        assert "ALICE-PRIVATE" not in response.text
    # The other inbox's bootstrap with alice's token: a new, empty session of that inbox.
    moved = await bootstrap(
        client, inboxes.other.widget_token, headers={"Origin": OTHER}, session_token=alice
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["messages"] == []
    assert visitor_of(moved.json()["session_token"])[1] != visitor_of(alice)[1]
    assert await count(db_session, Message) == messages_before


async def test_attachment_links_are_bound_to_their_signature_and_inbox_sites(
    client: AsyncTestClient, inboxes: Inboxes, db_session: AsyncSession
) -> None:
    async def upload(session_token: str, origin: str) -> str:
        response = await client.post(
            "/api/widget/attachments",
            files={"file": ("photo.png", PNG, "image/png")},
            headers=auth(session_token, origin),
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    alice = (await session_for(client, inboxes.shop))["session_token"]
    bob = (await session_for(client, inboxes.shop))["session_token"]
    olga = (await session_for(client, inboxes.other, OTHER))["session_token"]
    alice_file = await upload(alice, SHOP)
    olga_file = await upload(olga, OTHER)

    # Someone else's attachment id cannot be attached: refused like an unknown id.
    unknown = await send(client, bob, "mine?", attachment_ids=[str(uuid.uuid4())])
    stolen = await send(client, bob, "mine?", attachment_ids=[alice_file])
    cross_inbox = await send(client, olga, "mine?", OTHER, attachment_ids=[alice_file])
    for response in (stolen, cross_inbox):
        assert response.status_code == unknown.status_code, response.text
        assert response.json() == unknown.json()
    assert_json_error(unknown)
    linked = await db_session.scalar(
        select(Attachment.message_id).where(Attachment.id == uuid.UUID(alice_file))
    )
    assert linked is None

    sent = await send(client, alice, "photo", attachment_ids=[alice_file])
    assert sent.status_code == 201, sent.text
    url = sent.json()["attachments"][0]["url"]
    path, query = urlsplit(url).path, parse_qs(urlsplit(url).query)
    exp, sig = query["exp"][0], query["sig"][0]

    ok = await client.get(url, headers={"Origin": SHOP})
    assert ok.status_code == 200
    assert ok.content == PNG
    assert_origin_refused(await client.get(url, headers={"Origin": OTHER}))
    assert_origin_refused(await client.get(url, headers={"Origin": EVIL}))
    assert_origin_refused(await client.get(url))

    links = AttachmentLinks(TEST_SECRET)
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    not_found = {
        "tampered signature": f"{path}?exp={exp}&sig={flipped}",
        "later expiry, same signature": f"{path}?exp={int(exp) + 3600}&sig={sig}",
        "another attachment's id": f"/api/widget/attachments/{olga_file}?exp={exp}&sig={sig}",
        "unknown id": f"/api/widget/attachments/{uuid.uuid4()}?exp={exp}&sig={sig}",
        "expired": links.url(alice_file, now=time.time() - 4 * 3600),
        "too far ahead": links.url(alice_file, now=time.time() + 10 * 3600),
    }
    for name, link in not_found.items():
        response = await client.get(link, headers={"Origin": SHOP})
        assert response.status_code == 404, (name, response.status_code, response.text)
        assert_json_error(response, 404)
        assert response.content != PNG
    # A validly signed link of the other inbox's file, opened from the shop's site: refused.
    assert_origin_refused(await client.get(links.url(olga_file), headers={"Origin": SHOP}))
    assert (await client.get(links.url(olga_file), headers={"Origin": OTHER})).status_code == 200
