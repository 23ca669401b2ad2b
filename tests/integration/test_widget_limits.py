"""A limit on every widget call (issue 11, item 3) and visitor names that cannot mislead
(item 8), through the in-process app on real PostgreSQL and Redis.

Each limit answers 429 ``throttled`` with ``Retry-After`` and a JSON body past its value;
the per-inbox bootstrap bucket never refuses a returning visitor and asks new ones for the
proof-of-work instead of refusing them. Limits shared by two processes, open streams and
IPv6 networks (which need real sockets and client addresses) are in
``tests/live/test_widget_limits.py``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Conversation, Visitor
from tests.live.test_widget_security_features import challenge_of, solve
from tests.support.app import app_client
from tests.support.dashboard import quick_user, signed_in
from tests.support.factories import make_branch, make_inbox
from tests.support.widget import ORIGIN, WidgetVisitor, fresh

pytestmark = pytest.mark.timeout(60)

HEADERS = {"Origin": ORIGIN}


def throttled(response: httpx.Response, limit: str, window: int) -> None:
    """429 of ``limit``: JSON body with the error, a message and when to retry, and the
    ``Retry-After`` header saying the same."""
    assert response.status_code == 429, (response.status_code, response.text)
    body = response.json()
    assert body["error"] == "throttled"
    assert body["detail"]
    assert body["limit"] == limit
    assert 1 <= body["retry_after"] <= window
    assert response.headers["retry-after"] == str(body["retry_after"])


async def a_visitor(client: httpx.AsyncClient, widget_token: str) -> WidgetVisitor:
    tab = WidgetVisitor(client, widget_token)
    await tab.bootstrap()
    return tab


@pytest.mark.parametrize(
    ("variable", "limit", "call"),
    [
        ("MESSENGER_WIDGET_TYPING_RATE_PER_SESSION", "typing_per_session", "typing"),
        ("MESSENGER_WIDGET_READ_RATE_PER_SESSION", "read_per_session", "read"),
        ("MESSENGER_WIDGET_TICKET_RATE_PER_SESSION", "ticket_per_session", "ticket"),
    ],
)
async def test_typing_read_and_ticket_are_limited_per_session(
    env: dict[str, str],
    db_session: AsyncSession,
    variable: str,
    limit: str,
    call: str,
) -> None:
    inbox = await make_inbox(db_session, domains=["shop.example"])
    calls = {
        "typing": ("/typing", {"typing": True}, 204),
        "read": ("/read", {"up_to_id": 0}, 200),
        "ticket": ("/stream/ticket", {}, 201),
    }
    path, payload, ok = calls[call]
    async with app_client(env, relaxed=True, **{variable: "5/minute"}) as client:
        tab = await a_visitor(client, inbox.widget_token)
        await tab.send("hello")  # a conversation: typing and read have someone to tell
        burst = [await tab.post(path, payload) for _ in range(8)]
        other = await a_visitor(client, inbox.widget_token)
        others = await other.post(path, payload)

    assert [r.status_code for r in burst[:5]] == [ok] * 5, [r.text for r in burst]
    for refused in burst[5:]:
        throttled(refused, limit, window=60)
    assert others.status_code == ok  # another session has its own budget


async def test_uploads_have_their_own_limit_and_downloads_one_per_address(
    env: dict[str, str], db_session: AsyncSession, tmp_path: Any
) -> None:
    inbox = await make_inbox(
        db_session,
        domains=["shop.example"],
        settings={"attachments": {"enabled": True, "content_types": ["text/plain"]}},
    )
    limits = {
        "MESSENGER_DATA_DIR": str(tmp_path),
        "MESSENGER_WIDGET_UPLOAD_RATE_PER_SESSION": "2/minute",
        "MESSENGER_WIDGET_UPLOAD_RATE_PER_IP": "3/minute",
        "MESSENGER_WIDGET_DOWNLOAD_RATE_PER_IP": "4/minute",
    }
    async with app_client(env, relaxed=True, **limits) as client:
        tab = await a_visitor(client, inbox.widget_token)

        async def upload(visitor: WidgetVisitor) -> httpx.Response:
            return await client.post(
                "/api/widget/attachments",
                files={"file": ("a.txt", b"plain words", "text/plain")},
                headers=visitor.headers(),
            )

        uploads = [await upload(tab) for _ in range(3)]
        # Sending is a budget apart: uploads did not use it up.
        sent = await tab.send_raw("still allowed")
        second = await a_visitor(client, inbox.widget_token)
        from_second = [await upload(second) for _ in range(2)]  # 4th and 5th from this address

        file_id = uploads[0].json()["id"]
        downloads = [
            await client.get(
                f"/api/widget/attachments/{file_id}",
                params={"exp": 1, "sig": "forged"},
                headers=HEADERS,
            )
            for _ in range(5)
        ]

    assert [r.status_code for r in uploads[:2]] == [201, 201], uploads[0].text
    throttled(uploads[2], "upload_per_session", window=60)
    assert sent.status_code == 201, sent.text
    assert from_second[0].status_code == 201
    throttled(from_second[1], "upload_per_ip", window=60)
    # Forged links count too: a download flood is refused before any lookup.
    assert [r.status_code for r in downloads[:4]] == [404] * 4
    throttled(downloads[4], "download_per_ip", window=60)


async def test_a_flood_of_new_sessions_never_refuses_a_returning_visitor(
    env: dict[str, str], db_session: AsyncSession
) -> None:
    """Holding the public widget token, anyone can bootstrap: filling the per-inbox bucket
    must neither refuse returning visitors nor answer 429 to new ones (they get the
    proof-of-work, which an honest browser solves)."""
    inbox = await make_inbox(db_session, domains=["shop.example"])
    async with app_client(
        env,
        relaxed=True,
        MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN="5/minute",
        MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER="1000",
    ) as client:
        returning = await a_visitor(client, inbox.widget_token)  # 1 new session of 5

        async def new_bootstrap(**fields: Any) -> httpx.Response:
            return await client.post(
                "/api/widget/bootstrap",
                json={"widget_token": inbox.widget_token, **fields},
                headers=HEADERS,
            )

        flood = [await new_bootstrap() for _ in range(30)]
        restored = [await returning.bootstrap() for _ in range(10)]
        forged = await new_bootstrap(session_token="v1.forged.token")
        challenge = challenge_of(await new_bootstrap())
        solved = await new_bootstrap(challenge_solution=solve(challenge))
        replayed = await new_bootstrap(challenge_solution=solve(challenge))

    statuses = [r.status_code for r in flood]
    assert statuses[:4] == [200] * 4
    assert set(statuses[4:]) == {428}, statuses  # never a 429
    for refused in flood[4:]:
        challenge_of(refused)
    assert all(r["session_token"] for r in restored)
    challenge_of(forged)  # a forged session token is a new session
    assert solved.status_code == 200, solved.text
    challenge_of(replayed)  # one solution, one session


# --- names that cannot mislead ----------------------------------------------------------------


async def test_format_characters_are_stripped_from_the_offline_contact(
    env: dict[str, str], db_session: AsyncSession
) -> None:
    branch = await make_branch(db_session)
    inbox = await make_inbox(db_session, branch=branch, domains=["shop.example"])
    form = {
        "name": "\u202enimdA\u202c \u200bSupport",
        "email": "anna\u200b@example.com",
        "phone": "+49\u2066 30 123\u2069",
        "body": "Call me",
        "client_msg_id": uuid.uuid4().hex,
    }
    async with app_client(env, relaxed=True) as client:
        tab = await a_visitor(client, inbox.widget_token)
        created = await tab.post("/offline", form)

    assert created.status_code == 201, created.text
    conversation = await fresh(
        db_session, Conversation, uuid.UUID(created.json()["conversation_id"])
    )
    visitor = await fresh(db_session, Visitor, conversation.visitor_id)
    assert (visitor.name, visitor.email, visitor.phone) == (
        "nimdA Support",
        "anna@example.com",
        "+49 30 123",
    )


async def test_visitor_names_are_isolated_with_bdi_on_staff_pages(
    env: dict[str, str], db_session: AsyncSession, tmp_path: Any
) -> None:
    branch = await make_branch(db_session, "Alpha")
    await quick_user(db_session, [branch], email="anna@example.com", name="Anna")
    inbox = await make_inbox(db_session, branch=branch, domains=["shop.example"])
    await db_session.commit()
    name = "عبد الله 42"  # right-to-left text must not reorder what follows it
    async with app_client(
        env,
        relaxed=True,
        MESSENGER_DATA_DIR=str(tmp_path),
        MESSENGER_DEFAULT_LOCALE="en",
    ) as client:
        tab = await a_visitor(client, inbox.widget_token)
        created = await tab.post(
            "/offline",
            {"name": name, "email": "a@example.com", "body": "hi", "client_msg_id": "m1"},
        )
        assert created.status_code == 201, created.text
        conversation_id = created.json()["conversation_id"]
        await signed_in(client, "anna@example.com")
        listing = (await client.get("/")).text
        page = (await client.get(f"/conversations/{conversation_id}")).text

    isolated = f"<bdi>{name}</bdi>"
    assert isolated in listing
    # The heading, the visitor panel and the author of the visitor's message.
    assert page.count(isolated) >= 3, page
    assert not re.search(rf"(?<!<bdi>){re.escape(name)}(?!</bdi>)", page)
