"""The unified messenger over HTTP: branch scope, CSRF, sign-in throttling, sessions,
escaping of visitor input, every operator action, filters, paging, languages and presence.

Real PostgreSQL and Redis (see conftest). Pages and actions go through in-process apps
(``AsyncTestClient``); the endless SSE stream goes through real ``messenger serve``
processes read with httpx and bounded waits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import (
    Branch,
    Inbox,
    User,
    UserRole,
)
from tests.support.app import RELAXED_ENV, app_client
from tests.support.dashboard import Visitor, csrf_of, quick_user, sign_in, signed_in
from tests.support.factories import PASSWORD, make_branch, make_inbox
from tests.support.sse import staff_stream
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(90)


A_ORIGIN = "https://shop.example"


B_ORIGIN = "https://b.example"


TEXT_ATTACHMENTS = {"attachments": {"enabled": True, "content_types": ["text/plain"]}}


NEW_PASSWORD = "a brand new passphrase"


@dataclass
class World:
    """Two branches, each with an inbox; operators of A (two) and of B; an admin."""

    branch_a: Branch
    branch_b: Branch
    operator: User  # Anna, branch A: the one signed in unless a test says otherwise
    colleague: User  # Artem, branch A
    stranger: User  # Boris, branch B
    admin: User
    inbox_a: Inbox
    inbox_b: Inbox


async def build_world(db: AsyncSession) -> World:
    branch_a = await make_branch(db, "Alpha")
    branch_b = await make_branch(db, "Beta")
    world = World(
        branch_a=branch_a,
        branch_b=branch_b,
        operator=await quick_user(db, [branch_a], email="anna@example.com", name="Anna"),
        colleague=await quick_user(db, [branch_a], email="artem@example.com", name="Artem"),
        stranger=await quick_user(db, [branch_b], email="boris@example.com", name="Boris"),
        admin=await quick_user(
            db, [], email="ada@example.com", name="Ada Admin", role=UserRole.ADMIN
        ),
        inbox_a=await make_inbox(
            db,
            name="Alpha shop",
            branch=branch_a,
            domains=["shop.example"],
            settings=TEXT_ATTACHMENTS,
        ),
        inbox_b=await make_inbox(
            db, name="Beta shop", branch=branch_b, domains=["b.example"], settings=TEXT_ATTACHMENTS
        ),
    )
    await db.commit()
    return world


@pytest.fixture
def app_env(env: dict[str, str], tmp_path: Any) -> dict[str, str]:
    """In-process apps: English by default (tests of the language say otherwise), and
    attachments under this test's temporary directory."""
    return {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}


@pytest.fixture
async def client(app_env: dict[str, str]) -> Any:
    async with app_client(app_env, relaxed=True) as test_client:
        yield test_client


@pytest.fixture
async def world(db_session: AsyncSession) -> World:
    return await build_world(db_session)


def visitor_a(client: httpx.AsyncClient, world: World, **kwargs: Any) -> Visitor:
    return Visitor(client, world.inbox_a.widget_token, A_ORIGIN, **kwargs)


def visitor_b(client: httpx.AsyncClient, world: World, **kwargs: Any) -> Visitor:
    return Visitor(client, world.inbox_b.widget_token, B_ORIGIN, **kwargs)


async def test_stream_is_scoped_to_the_operators_branches(live_server, db_session):
    world = await build_world(db_session)
    server = live_server(**RELAXED_ENV)  # a one-second heartbeat
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=10) as staff,
        httpx.AsyncClient(base_url=server.url, timeout=10) as boss,
        httpx.AsyncClient(base_url=server.url, timeout=10) as site,
    ):
        mine, theirs = visitor_a(site, world), visitor_b(site, world)
        a_id = (await mine.send("alpha hello"))["conversation_id"]
        b_id = (await theirs.send("beta hello"))["conversation_id"]
        await signed_in(staff, world.operator.email)
        await signed_in(boss, world.admin.email)

        async with staff_stream(staff, {"conversation": b_id}) as refused:
            assert refused.response.status_code == 404
            assert refused.response.json()["error"] == "not_found"

        async with staff_stream(staff, {"conversation": a_id}) as stream:
            assert stream.response.status_code == 200
            assert stream.response.headers["content-type"].startswith("text/event-stream")
            await stream.wait_for(lambda _: "connected" in stream.comments())
            # B's visitor writes first, then A's: only A's events may reach this stream.
            await theirs.send("beta secret <b>B</b>")
            await mine.send("<script>alert(1)</script> from A")
            await stream.wait_for(lambda _: stream.events("message"))
            events = [item.event for item in stream.items if item.event]
            # A visitor wrote in an unassigned conversation: a notice too (notifications.js).
            assert events == ["list", "notify", "message"]
            html = stream.events("message")[0].data
            assert "&lt;script&gt;alert(1)&lt;/script&gt; from A" in html
            assert "<script>alert" not in html
            assert all("beta secret" not in (item.data or "") for item in stream.items)

        async with staff_stream(boss, {"conversation": b_id}) as admin_stream:
            assert admin_stream.response.status_code == 200
            await admin_stream.wait_for(lambda _: "connected" in admin_stream.comments())
            await theirs.send("beta again")
            await admin_stream.wait_for(lambda _: admin_stream.events("message"))
            assert "beta again" in admin_stream.events("message")[0].data


async def test_wrong_passwords_from_many_addresses_never_lock_the_owner_out(
    live_server, db_session
):
    """Issue 11: guesses from many addresses (IPv6 /64s and IPv4) make the account ask for a
    proof-of-work, never refuse it; the guesser's own /64 waits, wherever in it he moves."""
    world = await build_world(db_session)
    server = live_server(
        MESSENGER_TRUSTED_PROXIES="127.0.0.1",
        MESSENGER_SIGNIN_CHALLENGE_AFTER="5",
        MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER="1000",
    )

    def from_ip(address: str) -> dict[str, str]:
        return {"X-Forwarded-For": address}

    async with httpx.AsyncClient(base_url=server.url, timeout=10) as guesser:
        for i in range(5):
            wrong = await sign_in(
                guesser, world.operator.email, "not it", headers=from_ip(f"2001:db8:0:1::{i + 1}")
            )
            assert wrong.status_code == 400
        # Another address of the same /64: the same pair, so it waits.
        moved = await sign_in(
            guesser, world.operator.email, PASSWORD, headers=from_ip("2001:db8:0:1:ffff::9")
        )
        assert moved.status_code == 429
        assert int(moved.headers["retry-after"]) > 0
        # The sixth counted attempt, from elsewhere: a proof-of-work, not a refusal.
        asked = await sign_in(
            guesser, world.operator.email, "guess", headers=from_ip("203.0.113.7")
        )
        assert asked.status_code == 428
    # Another operator from an address the guesser used is not blocked.
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as other:
        colleague = await sign_in(
            other, world.colleague.email, PASSWORD, headers=from_ip("203.0.113.7")
        )
        assert colleague.status_code == 303


async def change_password(client: httpx.AsyncClient, current: str, new: str) -> httpx.Response:
    page = await client.get("/account")
    assert page.status_code == 200
    return await client.post(
        "/account/password",
        data={
            "_csrf_token": csrf_of(page.text),
            "current_password": current,
            "new_password": new,
            "confirm_password": new,
        },
        follow_redirects=False,
    )


async def test_password_change_closes_the_other_sessions_stream(live_server, db_session):
    world = await build_world(db_session)
    server = live_server(MESSENGER_STREAM_HEARTBEAT_SECONDS="1")
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=10) as one,
        httpx.AsyncClient(base_url=server.url, timeout=10) as two,
    ):
        await signed_in(one, world.operator.email)
        await signed_in(two, world.operator.email)
        async with staff_stream(two) as stream:
            assert stream.response.status_code == 200
            await stream.wait_for(lambda _: "connected" in stream.comments())
            # It outlives a heartbeat on its own ...
            await stream.wait_for(lambda _: "keep-alive" in stream.comments(), within=5)
            assert not stream.ended.is_set()
            # ... and closes within about one heartbeat of the password change.
            assert (await change_password(one, PASSWORD, NEW_PASSWORD)).status_code == 200
            changed_at = asyncio.get_running_loop().time()
            await asyncio.wait_for(stream.ended.wait(), 5)
            assert stream.ended_at is not None
            assert stream.ended_at - changed_at < 3.0
        assert (await two.get("/conversations", follow_redirects=False)).status_code == 303
        assert (await one.get("/conversations", follow_redirects=False)).status_code == 200


# --- presence ------------------------------------------------------------------------------


async def test_an_open_dashboard_stream_makes_the_branch_online(live_server, db_session):
    world = await build_world(db_session)
    server = live_server(**RELAXED_ENV)  # a one-second heartbeat
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=10) as staff,
        httpx.AsyncClient(base_url=server.url, timeout=10) as site,
    ):

        async def online(inbox: Inbox, origin: str) -> bool:
            return (await Visitor(site, inbox.widget_token, origin).bootstrap())["online"]

        assert await online(world.inbox_a, A_ORIGIN) is False
        await signed_in(staff, world.operator.email)
        async with staff_stream(staff) as stream:
            assert stream.response.status_code == 200
            await stream.wait_for(lambda _: "connected" in stream.comments())
            assert await online(world.inbox_a, A_ORIGIN) is True
            assert await online(world.inbox_b, B_ORIGIN) is False  # nobody of branch B
        # Closing the stream takes the operator off at once (not only when the TTL ends).

        async def offline() -> bool:
            return not await online(world.inbox_a, A_ORIGIN)

        await eventually(offline, within=5, interval=0.2)
