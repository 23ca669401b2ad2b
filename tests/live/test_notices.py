"""The staff stream's ``notify`` events (issue 14, item 1), over real sockets: a visitor's
message in a conversation in scope that is the operator's or nobody's is a notice (the
visitor's name, the first line, plain text); one assigned to a colleague, an operator's
own reply, and another branch's conversation are not. The sound switch is saved on the
account through a CSRF-protected form."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Conversation, User
from tests.support.app import RELAXED_ENV
from tests.support.dashboard import Visitor, csrf_token, quick_user, signed_in
from tests.support.factories import make_branch, make_inbox
from tests.support.sse import staff_stream

pytestmark = pytest.mark.timeout(90)


async def test_notices_go_to_the_operator_of_the_conversation_or_of_an_unassigned_one(
    live_server: Any, db_session: AsyncSession
) -> None:
    alpha, beta = await make_branch(db_session, "Alpha"), await make_branch(db_session, "Beta")
    anna = await quick_user(db_session, [alpha], email="anna@example.com", name="Anna")
    artem = await quick_user(db_session, [alpha], email="artem@example.com", name="Artem")
    inbox_a = await make_inbox(db_session, name="A", branch=alpha, domains=["a.example"])
    inbox_b = await make_inbox(db_session, name="B", branch=beta, domains=["b.example"])
    await db_session.commit()
    server = live_server(**RELAXED_ENV)
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=10) as staff,
        httpx.AsyncClient(base_url=server.url, timeout=10) as site,
    ):
        vera = Visitor(site, inbox_a.widget_token, "https://a.example")
        taken = Visitor(site, inbox_a.widget_token, "https://a.example")
        other = Visitor(site, inbox_b.widget_token, "https://b.example")
        taken_id = (await taken.offline(name="Tom", email="tom@example.com", body="first"))[
            "conversation_id"
        ]
        conversation = await db_session.get(Conversation, uuid.UUID(taken_id))
        assert conversation is not None
        conversation.assignee_id = artem.id
        await db_session.commit()
        await signed_in(staff, anna.email)

        async with staff_stream(staff) as stream:
            await stream.wait_for(lambda _: "connected" in stream.comments())
            await other.send("beta secret")  # another branch
            await taken.send("for Artem")  # assigned to a colleague
            started = await vera.offline(
                name="<b>Vera</b>", email="vera@example.com", body="\n  Where is <i>it</i>?\nline 2"
            )
            await stream.wait_for(lambda _: stream.events("notify"))
            # A marker after the one notice: nothing else came meanwhile.
            await vera.send("marker")
            await stream.wait_for(lambda _: len(stream.events("notify")) == 2)
            notices = [json.loads(item.data) for item in stream.events("notify")]

    assert notices[0] == {
        "conversation_id": started["conversation_id"],
        "url": f"/conversations/{started['conversation_id']}",
        "name": "<b>Vera</b>",  # plain text: the browser's Notification shows no HTML
        "text": "Where is <i>it</i>?",
        "message_id": notices[0]["message_id"],
    }
    assert notices[1]["text"] == "marker"
    assert all(n["conversation_id"] == started["conversation_id"] for n in notices)


async def test_the_sound_switch_is_saved_with_csrf(
    live_server: Any, db_session: AsyncSession
) -> None:
    alpha = await make_branch(db_session, "Alpha")
    anna = await quick_user(db_session, [alpha], email="anna@example.com", name="Anna")
    await db_session.commit()
    server = live_server(**RELAXED_ENV)

    async def sound() -> bool:
        await db_session.commit()
        value = await db_session.scalar(
            select(User.notification_sound)
            .where(User.id == anna.id)
            .execution_options(populate_existing=True)
        )
        return bool(value)

    async with httpx.AsyncClient(base_url=server.url, timeout=10) as staff:
        await signed_in(staff, anna.email)
        page = await staff.get("/conversations")
        assert 'id="notify-sound" name="sound" value="1" checked' in page.text
        forged = await staff.post("/account/notifications", data={})
        assert forged.status_code == 403
        assert await sound() is True
        off = await staff.post(
            "/account/notifications", data={}, headers={"x-csrftoken": csrf_token(staff)}
        )
        assert off.status_code == 204
        assert await sound() is False
        on = await staff.post(
            "/account/notifications",
            data={"sound": "1"},
            headers={"x-csrftoken": csrf_token(staff)},
        )
        assert on.status_code == 204
        assert await sound() is True
