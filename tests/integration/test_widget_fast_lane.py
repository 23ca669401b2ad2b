"""The widget's send and poll served by the ASGI fast lane (messenger/widget/fastlane.py):
the same answers as the full Litestar stack, byte for byte, refusals included.

Each answer of the fast lane is compared with the full stack's answer to the same call: a
request the fast lane does not fully understand goes to the full stack, so a poll with one
more query parameter and a send declaring ``charset=utf-8`` are the full stack's answers.
Which one served a call is read from ``messenger_widget_fast_lane_total``: a test that only
compared answers would pass as well if nothing ever took the fast lane.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.widget.sessions import SessionSigner
from tests.conftest import TEST_SECRET
from tests.support.app import ClientFactory
from tests.support.factories import make_branch, make_inbox
from tests.support.widget import ORIGIN, WidgetVisitor

pytestmark = pytest.mark.timeout(60)

MESSAGES = "/api/widget/messages"
RID = "fast-lane-test-0001"
EVIL = "https://evil.example"
#: Past the tests' minimum poll interval (0.01 s), so that polls are not throttled.
POLL_GAP = 0.03
CLOSED_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/messenger"


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Lane:
    """How many calls the fast lane served, refused or handed over since this was made."""

    OUTCOMES = ("served", "refused", "handed_over")

    def __init__(self) -> None:
        self._start = self._now()

    def _now(self) -> dict[tuple[str, str], float]:
        return {
            (call, outcome): _sample(
                "messenger_widget_fast_lane_total", {"call": call, "outcome": outcome}
            )
            for call in ("send", "poll")
            for outcome in self.OUTCOMES
        }

    def since(self, call: str, outcome: str) -> int:
        return int(self._now()[(call, outcome)] - self._start[(call, outcome)])

    def total(self) -> int:
        now = self._now()
        return int(sum(now[key] - self._start[key] for key in now))


def _headers(tab: WidgetVisitor, **extra: str) -> dict[str, str]:
    return tab.headers({"X-Request-ID": RID, **extra})


async def fast_poll(tab: WidgetVisitor, after: int, **headers: str) -> httpx.Response:
    await asyncio.sleep(POLL_GAP)
    return await tab.client.get(f"{MESSAGES}?after={after}", headers=_headers(tab, **headers))


async def full_poll(tab: WidgetVisitor, after: int, **headers: str) -> httpx.Response:
    """The same poll through the full stack (one more query parameter, which it ignores)."""
    await asyncio.sleep(POLL_GAP)
    return await tab.client.get(
        f"{MESSAGES}?after={after}&via=full", headers=_headers(tab, **headers)
    )


async def fast_send(tab: WidgetVisitor, payload: dict[str, Any], **headers: str) -> httpx.Response:
    return await tab.client.post(MESSAGES, json=payload, headers=_headers(tab, **headers))


async def full_send(tab: WidgetVisitor, payload: dict[str, Any], **headers: str) -> httpx.Response:
    """The same send through the full stack (a content type it reads alike)."""
    return await tab.client.post(
        MESSAGES,
        content=json.dumps(payload).encode(),
        headers=_headers(tab, **{"Content-Type": "application/json; charset=utf-8", **headers}),
    )


def assert_same(fast: httpx.Response, full: httpx.Response, *, status: bool = True) -> None:
    """The same answer: status, body bytes and every header, in order."""
    if status:
        assert fast.status_code == full.status_code, (fast.text, full.text)
    assert fast.content == full.content
    assert fast.headers.raw == full.headers.raw


async def test_send_and_poll_answer_as_the_full_stack_and_are_served_by_the_fast_lane(
    db_session: AsyncSession, widget_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="messenger.access")
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        lane = Lane()
        requests = _sample(
            "messenger_requests_total",
            {"method": "POST", "path": MESSAGES, "status_code": "201", "app_name": "messenger"},
        )
        first = await fast_send(tab, {"body": "Hello", "client_msg_id": "m-1"})
        assert first.status_code == 201, first.text
        # A new message through the fast lane, its repeat through the full stack (200, the
        # stored message): the same bytes, the same headers.
        sent = await fast_send(tab, {"body": "Where is my order?", "client_msg_id": "m-2"})
        repeat = await full_send(tab, {"body": "Where is my order?", "client_msg_id": "m-2"})
        assert (sent.status_code, repeat.status_code) == (201, 200)
        assert_same(sent, repeat, status=False)
        # And the other way round.
        full = await full_send(tab, {"body": "Any news?", "client_msg_id": "m-3"})
        fast = await fast_send(tab, {"body": "Any news?", "client_msg_id": "m-3"})
        assert (full.status_code, fast.status_code) == (201, 200)
        assert_same(fast, full, status=False)
        for after in (0, sent.json()["id"], full.json()["id"]):
            polled, polled_full = await fast_poll(tab, after), await full_poll(tab, after)
            assert polled.status_code == 200, polled.text
            assert_same(polled, polled_full)
        await asyncio.sleep(POLL_GAP)
        no_query = await client.get(MESSAGES, headers=_headers(tab))
        assert_same(no_query, await fast_poll(tab, 0))

        assert lane.since("send", "served") == 3
        assert lane.since("send", "handed_over") == 2
        assert lane.since("poll", "served") == 5
        assert lane.since("poll", "handed_over") == 3
        assert lane.since("send", "refused") == lane.since("poll", "refused") == 0
        assert [m["body"] for m in polled.json()["messages"]] == []
        await asyncio.sleep(POLL_GAP)  # past the minimum interval: no 429 and retry
        assert [m["body"] for m in (await tab.poll(0))["messages"]] == [
            "Hello",
            "Where is my order?",
            "Any news?",
        ]

        headers = sent.headers
        assert headers["x-request-id"] == RID
        assert headers["access-control-allow-origin"] == ORIGIN
        assert headers["access-control-expose-headers"] == "Retry-After"
        assert headers["vary"] == "Origin"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["content-type"] == "application/json"
        assert "content-security-policy" not in headers  # cross-origin: no page policy

        # The request id: a sane one is kept, anything else replaced by a fresh one.
        await asyncio.sleep(POLL_GAP)
        fresh = await client.get(MESSAGES, headers=tab.headers())
        assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
        odd = await fast_poll(tab, 0, **{"X-Request-ID": "no spaces allowed here"})
        assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["x-request-id"])

    # The request metrics by route template, and one access line per call without query.
    assert (
        _sample(
            "messenger_requests_total",
            {"method": "POST", "path": MESSAGES, "status_code": "201", "app_name": "messenger"},
        )
        - requests
        == 3
    )
    lines = [r for r in caplog.records if r.name == "messenger.access" and r.path == MESSAGES]
    # A poll that a slow machine still sends inside the minimum interval is answered 429
    # and retried by the test's visitor: its line is real, it is not one of the counted calls.
    lines = [line for line in lines if line.status != 429]
    assert len(lines) == 5 + 11  # the sends, the polls
    assert {line.method for line in lines} == {"GET", "POST"}
    assert all(isinstance(line.duration_ms, float) for line in lines)
    assert {line.status for line in lines} == {200, 201}
    assert not any("after" in str(line.__dict__) for line in lines)
    assert not any("Where is my order" in str(line.__dict__) for line in lines)


async def test_refusals_are_the_full_stacks_answers(
    db_session: AsyncSession, widget_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="messenger.widget.security")
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    signer = SessionSigner(TEST_SECRET)
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        await tab.send("Hello")
        token = tab.session_token
        assert token is not None
        payload = {"body": "Hi", "client_msg_id": "r-1"}
        cases: list[tuple[str, dict[str, str], int, str]] = [
            ("no token", {"Authorization": ""}, 401, "unauthorized"),
            ("forged token", {"Authorization": f"Bearer {token[:-4]}AAAA"}, 401, "unauthorized"),
            (
                "unknown inbox",
                {"Authorization": f"Bearer {signer.issue(10**9, uuid.uuid4())}"},
                404,
                "not_found",
            ),
            ("origin not allowed", {"Origin": EVIL}, 403, "origin_not_allowed"),
            ("in English", {"Authorization": "", "Accept-Language": "en"}, 401, "unauthorized"),
        ]
        lane = Lane()
        for name, headers, status, code in cases:
            for fast, full in (
                (await fast_poll(tab, 0, **headers), await full_poll(tab, 0, **headers)),
                (
                    await fast_send(tab, payload, **headers),
                    await full_send(tab, payload, **headers),
                ),
            ):
                assert fast.status_code == status, (name, fast.text)
                assert fast.json()["error"] == code, name
                assert_same(fast, full)
                assert fast.headers["x-request-id"] == RID
                assert fast.headers["x-content-type-options"] == "nosniff"
                # An allowed origin is echoed on errors too; a refused one never.
                echoed = fast.headers.get("access-control-allow-origin")
                assert echoed == (None if code == "origin_not_allowed" else ORIGIN), name
        # The widget's language (Accept-Language), else the default locale (ru).
        english = (await fast_poll(tab, 0, **cases[-1][1])).json()["detail"]
        default = (await fast_poll(tab, 0, **cases[0][1])).json()["detail"]
        assert english.startswith("Missing, expired or invalid session token")
        assert default != english
        assert lane.since("poll", "refused") == len(cases) + 2
        assert lane.since("send", "refused") == len(cases)
        assert lane.since("poll", "served") == lane.since("send", "served") == 0

    refusals = [r for r in caplog.records if r.name == "messenger.widget.security"]
    # Both stacks log a refused origin, once per call, with no token in the line.
    assert [r.endpoint for r in refusals] == [f"GET {MESSAGES}"] * 2 + [f"POST {MESSAGES}"] * 2
    assert {r.reason for r in refusals} == {"origin_not_in_allowlist"}
    assert all(r.origin == EVIL and r.inbox_id == inbox.id for r in refusals)


async def test_throttled_calls_say_when_to_retry(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client(
        MESSENGER_WIDGET_SEND_RATE_PER_SESSION="3/minute",
        MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS="30",
    ) as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        for n in range(3):
            assert (await fast_send(tab, {"body": "x", "client_msg_id": f"t-{n}"})).status_code in {
                200,
                201,
            }
        assert (await fast_poll(tab, 0)).status_code == 200
        lane = Lane()
        for fast, full in (
            (await fast_poll(tab, 0), await full_poll(tab, 0)),
            (
                await fast_send(tab, {"body": "x", "client_msg_id": "t-9"}),
                await full_send(tab, {"body": "x", "client_msg_id": "t-9"}),
            ),
        ):
            assert fast.status_code == full.status_code == 429, fast.text
            assert fast.json()["error"] == "throttled"
            assert int(fast.headers["retry-after"]) == fast.json()["retry_after"] > 0
            # The wait may have ticked a second between the two calls; all else is the same.
            assert [k for k, _ in fast.headers.raw] == [k for k, _ in full.headers.raw]
            assert fast.json()["limit"] == full.json()["limit"]
            assert fast.headers["access-control-allow-origin"] == ORIGIN
        assert lane.since("poll", "refused") == lane.since("send", "refused") == 1


async def test_what_the_fast_lane_does_not_understand_is_the_full_stacks_to_answer(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        await tab.send("Hello")
        lane = Lane()
        headers = _headers(tab, **{"Content-Type": "application/json"})
        not_json = await client.post(MESSAGES, content=b"{not json", headers=headers)
        assert not_json.status_code == 400, not_json.text
        unknown_field = await client.post(
            MESSAGES, content=b'{"body": "x", "client_msg_id": "u-1", "extra": 1}', headers=headers
        )
        assert unknown_field.status_code == 422, unknown_field.text
        too_long = await fast_send(tab, {"body": "x" * 20_000, "client_msg_id": "u-2"})
        assert too_long.status_code == 422, too_long.text
        too_large = await fast_send(tab, {"body": "x" * (65 * 1024), "client_msg_id": "u-3"})
        assert too_large.status_code == 413, too_large.text
        await asyncio.sleep(POLL_GAP)
        bad_after = await client.get(f"{MESSAGES}?after=-1", headers=_headers(tab))
        assert bad_after.status_code == 422, bad_after.text
        await asyncio.sleep(POLL_GAP)
        huge_after = await client.get(f"{MESSAGES}?after={2**62 + 1}", headers=_headers(tab))
        assert huge_after.status_code == 422, huge_after.text
        for answer in (not_json, unknown_field, too_long, too_large, bad_after, huge_after):
            assert answer.headers["x-request-id"] == RID
            assert answer.headers["access-control-allow-origin"] == ORIGIN
            assert answer.json()["error"] in {"bad_request", "too_large", "invalid"}
        assert lane.since("send", "handed_over") == 4
        assert lane.since("poll", "handed_over") == 2
        assert lane.since("send", "served") == lane.since("poll", "served") == 0
        # Nothing was stored by any of them.
        assert len((await tab.poll(0))["messages"]) == 1


async def test_switched_off_and_database_down(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    token = SessionSigner(TEST_SECRET).issue(inbox.id, uuid.uuid4())
    payload = {"body": "Hi", "client_msg_id": "d-1"}
    async with widget_client(MESSENGER_ENABLED="0") as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        tab.session_token = token
        lane = Lane()
        for fast, full in (
            (await fast_poll(tab, 0), await full_poll(tab, 0)),
            (await fast_send(tab, payload), await full_send(tab, payload)),
        ):
            assert fast.status_code == 404, fast.text
            assert fast.json()["error"] == "not_found"
            assert_same(fast, full)
        assert lane.total() == 0  # switched off: the full stack's edge answers
    async with widget_client(DATABASE_URL=CLOSED_DATABASE) as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        tab.session_token = token
        lane = Lane()
        for fast, full in (
            (await fast_poll(tab, 0), await full_poll(tab, 0)),
            (await fast_send(tab, payload), await full_send(tab, payload)),
        ):
            assert fast.status_code == 503, fast.text
            assert fast.json()["error"] == "unavailable"
            assert fast.headers["retry-after"] == "5"
            assert_same(fast, full)
        assert lane.since("poll", "refused") == lane.since("send", "refused") == 1


async def test_other_calls_are_left_to_the_full_stack(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        lane = Lane()
        await tab.bootstrap()
        preflight = await client.options(
            MESSAGES,
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        put = await client.put(MESSAGES, json={}, headers=tab.headers())
        assert put.status_code == 405
        head = await client.head(MESSAGES, headers=tab.headers())
        assert head.status_code in {200, 405}
        slash = await client.get(f"{MESSAGES}/", headers=tab.headers())
        assert slash.status_code in {200, 404}
        ticket = await tab.post("/stream/ticket", {})
        assert ticket.status_code == 201, ticket.text
        assert (await client.get("/health")).status_code == 200
        assert lane.total() == 0
