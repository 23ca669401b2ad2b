"""Release readiness: two processes behave as one, metrics count refusals, logs stay clean."""

import re
import uuid

import httpx
from sqlalchemy import select

from messenger.db.models import Conversation, Message, MessageKind
from tests.support.app import RELAXED_ENV
from tests.support.factories import PASSWORD, make_branch, make_inbox, make_user
from tests.support.sse import SSEStream
from tests.support.waiting import eventually
from tests.support.widget import ORIGIN, WidgetVisitor, fresh


async def sign_in(client: httpx.AsyncClient, email: str) -> str:
    page = await client.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    response = await client.post(
        "/login", data={"_csrf_token": token, "email": email, "password": PASSWORD, "next": "/"}
    )
    assert response.status_code == 303, response.text
    return token


def csrf(html: str) -> str:
    return re.search(r'"x-csrftoken": "([^"]+)"', html).group(1)


async def test_two_processes_chat_live_and_share_sessions_presence_and_counters(
    live_server, db_session
):
    branch = await make_branch(db_session)
    inbox = await make_inbox(db_session, branch=branch, domains=["shop.example"])
    await make_user(db_session, [branch], email="olga@example.com", name="Olga")
    a = live_server(**RELAXED_ENV)
    b = live_server(**RELAXED_ENV)
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=10) as visitor_http,
        httpx.AsyncClient(base_url=b.url, timeout=10) as operator_b,
        httpx.AsyncClient(base_url=a.url, timeout=10) as operator_a,
    ):
        visitor = WidgetVisitor(visitor_http, inbox.widget_token, origin=ORIGIN)
        first = await visitor.bootstrap()
        assert first["online"] is False  # nobody has the dashboard open

        # The operator signs in on B; the same session cookie works on A (sessions in Redis).
        await sign_in(operator_b, "olga@example.com")
        operator_a.cookies.update(operator_b.cookies)
        assert (await operator_a.get("/conversations")).status_code == 200

        # Presence from B's open dashboard reaches A's offline decision.
        async with operator_b.stream(
            "GET", "/dashboard/stream", timeout=httpx.Timeout(10, read=None)
        ) as staff:
            assert staff.status_code == 200

            async def online() -> bool:
                return (await visitor.bootstrap())["online"]

            await eventually(online, within=10)

            # The visitor streams from A; the operator answers through the dashboard on B.
            sent = await visitor.send("Hello from the site")
            conversation_id = sent["conversation_id"]
            async with SSEStream(
                visitor_http,
                headers={"Origin": ORIGIN, "Authorization": f"Bearer {visitor.session_token}"},
                params={"last_event_id": sent["id"]},
            ) as stream:
                await stream.connected()
                page = await operator_b.get(f"/conversations/{conversation_id}")
                assert page.status_code == 200
                reply = await operator_b.post(
                    f"/conversations/{conversation_id}/messages",
                    data={"body": "Hello from process B", "kind": "message"},
                    headers={"x-csrftoken": csrf(page.text), "hx-request": "true"},
                )
                assert reply.status_code == 200, reply.text
                note = await operator_b.post(
                    f"/conversations/{conversation_id}/messages",
                    data={"body": "internal only", "kind": "note"},
                    headers={"x-csrftoken": csrf(page.text), "hx-request": "true"},
                )
                assert note.status_code == 200
                await stream.wait_for(
                    lambda s: any(
                        i.json()["body"] == "Hello from process B" for i in s.events("message")
                    )
                )
                assert all(i.json()["body"] != "internal only" for i in stream.events("message"))
        operator_message = (
            await db_session.execute(
                select(Message).where(
                    Message.conversation_id == uuid.UUID(conversation_id),
                    Message.kind == MessageKind.MESSAGE,
                    Message.body == "Hello from process B",
                )
            )
        ).scalar_one()

        async def delivered() -> bool:
            row = await fresh(db_session, Message, operator_message.id)
            return row.delivered_at is not None

        await eventually(delivered)
        conversation = await fresh(db_session, Conversation, uuid.UUID(conversation_id))
        assert conversation.branch_id == branch.id


async def test_logs_are_json_with_request_ids_and_never_carry_tokens_or_bodies(
    live_server, db_session
):
    import json

    branch = await make_branch(db_session)
    inbox = await make_inbox(db_session, branch=branch, domains=["shop.example"])
    server = live_server(**RELAXED_ENV)
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        visitor = WidgetVisitor(http, inbox.widget_token)
        boot = await visitor.bootstrap()
        await visitor.send("SECRET-BODY-4711")
        ticket_response = await http.get(
            "/api/widget/stream",
            params={"ticket": "TICKET-SHOULD-NOT-BE-LOGGED"},
            headers={"Origin": ORIGIN},
        )
        assert ticket_response.status_code == 401
        response = await http.get("/health", headers={"X-Request-ID": "req-abcdef123"})
        assert response.headers["x-request-id"] == "req-abcdef123"

    async def logged() -> bool:
        return "req-abcdef123" in server.log()

    await eventually(logged)
    log = server.log()
    assert "SECRET-BODY-4711" not in log
    assert boot["session_token"] not in log
    assert inbox.widget_token not in log
    assert "TICKET-SHOULD-NOT-BE-LOGGED" not in log
    access = [
        json.loads(line)
        for line in log.splitlines()
        if line.startswith("{") and '"messenger.access"' in line
    ]
    assert access, log
    assert all(entry["request_id"] and "?" not in entry["path"] for entry in access)
    assert any(
        entry["path"] == "/api/widget/messages" and entry["status"] == 201 for entry in access
    )
