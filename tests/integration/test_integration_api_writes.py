"""The integration REST API's writes (replies, notes, changes) with the dashboard's rules,
its contacts lookup, and its description at ``/schema``."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.contacts.identity import identity_hash
from messenger.db.models import Conversation, Message
from tests.support.api import A_ORIGIN, B_ORIGIN, Api, ApiWorld, build_api_world
from tests.support.app import app_client
from tests.support.dashboard import Visitor

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def client(env: dict[str, str], tmp_path: Any) -> Any:
    app_env = {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}
    async with app_client(app_env, relaxed=True) as test_client:
        yield test_client


@pytest.fixture
async def world(db_session: AsyncSession) -> ApiWorld:
    return await build_api_world(db_session)


async def count_messages(db: AsyncSession, **where: Any) -> int:
    await db.commit()
    query = select(func.count()).select_from(Message).filter_by(**where)
    return int(await db.scalar(query) or 0)


async def test_sends_are_idempotent_201_then_200_one_row(client, world, db_session):
    visitor = Visitor(client, world.inbox_a.widget_token, A_ORIGIN)
    cid = str((await visitor.send("hello"))["conversation_id"])
    api = Api(client, world.a)
    payload = {"body": "We are on it", "client_msg_id": "crm-1"}
    first = await api.post(f"/conversations/{cid}/messages", payload)
    again = await api.post(f"/conversations/{cid}/messages", payload)
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert first.json() == again.json()
    assert first.json()["author"] == {"name": "CRM Alpha", "email": None}
    assert first.json()["kind"] == "message"
    assert await count_messages(db_session, client_msg_id="crm-1") == 1
    note = {"body": "internal", "kind": "note", "client_msg_id": "crm-n"}
    assert (await api.post(f"/conversations/{cid}/messages", note)).status_code == 201
    assert (await api.post(f"/conversations/{cid}/messages", note)).status_code == 200
    assert await count_messages(db_session, client_msg_id="crm-n") == 1
    # The visitor sees the reply under the token's name, and never the note.
    polled = await client.get(
        "/api/widget/messages", params={"after": 0}, headers=visitor.headers()
    )
    bodies = [(m["body"], (m["author"] or {}).get("name")) for m in polled.json()["messages"]]
    assert bodies == [("hello", None), ("We are on it", "CRM Alpha")]


async def test_writing_as_a_member_of_staff_needs_one_who_sees_the_conversation(
    client, world, db_session
):
    cid = str(
        (await Visitor(client, world.inbox_a.widget_token, A_ORIGIN).send("hi"))["conversation_id"]
    )
    api = Api(client, world.all)
    as_anna = await api.post(
        f"/conversations/{cid}/messages",
        {"body": "Anna here", "client_msg_id": "x1", "author_email": "ANNA@example.com"},
    )
    assert as_anna.status_code == 201, as_anna.text
    assert as_anna.json()["author"] == {"name": "Anna", "email": "anna@example.com"}
    for email in ("boris@example.com", "nobody@example.com"):
        refused = await api.post(
            f"/conversations/{cid}/messages",
            {"body": "not mine", "client_msg_id": f"x-{email}", "author_email": email},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] == "invalid"
    assert await count_messages(db_session, body="not mine") == 0
    for bad in (
        {"body": "", "client_msg_id": "e1"},
        {"body": "x", "client_msg_id": "has space"},
        {"body": "x"},
        {"body": "x", "client_msg_id": "e2", "kind": "event"},
        {"body": "x", "client_msg_id": "e3", "extra": 1},
        {"body": "x" * 10_001, "client_msg_id": "e4"},
    ):
        response = await api.post(f"/conversations/{cid}/messages", bad)
        assert response.status_code in {400, 422}, (bad, response.text)
        assert set(response.json()) >= {"error", "detail"}


async def test_patch_follows_the_dashboards_rules(client, world, db_session):
    cid = str(
        (await Visitor(client, world.inbox_a.widget_token, A_ORIGIN).send("hi"))["conversation_id"]
    )
    api = Api(client, world.a)
    changed = await api.patch(
        f"/conversations/{cid}",
        {"status": "pending", "priority": "high", "assignee_email": "artem@example.com"},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["status"], body["priority"]) == ("pending", "high")
    assert body["assignee"] == {"id": world.artem.id, "name": "Artem", "email": "artem@example.com"}
    # Rules refused: an unknown status, an operator of another branch, an unknown person.
    for refused in (
        {"status": "archived"},
        {"priority": "asap"},
        {"assignee_email": "boris@example.com"},
        {"assignee_email": "nobody@example.com"},
        {"status": "resolved", "assignee_email": "boris@example.com"},
        {"unknown": 1},
    ):
        response = await api.patch(f"/conversations/{cid}", refused)
        assert response.status_code in {400, 422}, (refused, response.text)
    now = await api.ok(f"/conversations/{cid}")
    assert now["status"] == "pending"  # the refused combination changed nothing
    assert now["assignee"]["id"] == world.artem.id
    unassigned = await api.patch(f"/conversations/{cid}", {"assignee_email": None})
    assert unassigned.json()["assignee"] is None
    untouched = await api.patch(f"/conversations/{cid}", {})
    assert untouched.status_code == 200
    assert untouched.json()["priority"] == "high"
    events = [
        m["body"]
        for m in (await api.ok(f"/conversations/{cid}/messages"))["items"]
        if m["kind"] == "event"
    ]
    assert events == ["status:pending", "assigned"]
    await db_session.commit()
    row = await db_session.get(Conversation, __import__("uuid").UUID(cid), populate_existing=True)
    assert row is not None
    assert row.assignee_id is None


async def test_contacts_by_email_and_phone_within_scope(client, world):
    anna = Visitor(client, world.inbox_a.widget_token, A_ORIGIN)
    await anna.bootstrap()
    sent = await anna.offline(
        name="Anna K", email="Anna.K@Example.com", phone="+7 (900) 111-22-33", body="call me"
    )
    other = Visitor(client, world.inbox_b.widget_token, B_ORIGIN)
    await other.bootstrap()
    await other.offline(name="Anna B", email="anna.k@example.com", body="me too")
    api = Api(client, world.a)
    by_email = await api.ok("/contacts", email="anna.k@example.com")
    assert [c["name"] for c in by_email["items"]] == ["Anna K"]  # B's visitor is out of scope
    contact = by_email["items"][0]
    assert contact["identifier"] is None
    assert [c["id"] for c in contact["conversations"]] == [str(sent["conversation_id"])]
    by_phone = await api.ok("/contacts", phone="79001112233")
    assert [c["name"] for c in by_phone["items"]] == ["Anna K"]
    both = await Api(client, world.all).ok("/contacts", email="ANNA.K@example.com")
    assert sorted(c["name"] for c in both["items"]) == ["Anna B", "Anna K"]
    assert (await api.ok("/contacts", email="nobody@example.com"))["items"] == []
    assert (await api.get("/contacts")).status_code == 422
    assert (await api.ok("/contacts", identifier="crm-42"))["items"] == []
    assert (await api.get("/contacts", phone="no digits")).status_code == 422


async def test_contacts_and_conversations_carry_the_signed_identity(client, world):
    boris = Visitor(client, world.inbox_a.widget_token, A_ORIGIN)
    secret = world.inbox_a.identity_secret
    identity = {
        "identifier": "crm-42",
        "identity_hash": identity_hash(secret, "crm-42"),
        "name": "Boris",
        "email": "boris@example.com",
    }
    await boris.bootstrap(identity=identity)
    sent = await boris.send("hello, it is Boris")
    api = Api(client, world.a)
    (found,) = (await api.ok("/contacts", identifier="crm-42"))["items"]
    assert found["identifier"] == "crm-42"
    assert found["name"] == "Boris"
    assert [c["id"] for c in found["conversations"]] == [str(sent["conversation_id"])]
    one = await api.ok(f"/conversations/{sent['conversation_id']}")
    assert one["contact"]["identifier"] == "crm-42"
    assert one["contact"]["email"] == "boris@example.com"
    listed = {c["id"]: c for c in (await api.ok("/conversations"))["items"]}
    assert listed[str(sent["conversation_id"])]["contact"]["identifier"] == "crm-42"
    # Another branch's token does not find the person.
    assert (await Api(client, world.b).ok("/contacts", identifier="crm-42"))["items"] == []


async def test_schema_documents_every_call_with_bodies_and_examples(client):
    schema = (await client.get("/schema/openapi.json")).json()
    calls = {
        ("/api/v1/conversations", "get"),
        ("/api/v1/conversations/{conversation_id}", "get"),
        ("/api/v1/conversations/{conversation_id}", "patch"),
        ("/api/v1/conversations/{conversation_id}/messages", "get"),
        ("/api/v1/conversations/{conversation_id}/messages", "post"),
        ("/api/v1/contacts", "get"),
    }
    documented = {
        (path, method)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method in item
    }
    assert documented == calls
    for path, method in calls:
        operation = schema["paths"][path][method]
        assert operation["tags"] == ["integration"], path
        assert operation["security"] == [{"api_token": []}]
        assert {"401", "429"} <= set(operation["responses"])
        success = operation["responses"]["201" if method == "post" else "200"]
        assert success["content"]["application/json"]["examples"], (path, method)
        if method in {"post", "patch"}:
            body = operation["requestBody"]["content"]["application/json"]
            assert body["schema"], path
            assert body.get("examples") or body["schema"].get("examples"), path
    widget = schema["paths"]["/api/widget/messages"]["post"]
    assert widget["tags"] == ["widget"]
    assert "api_token" in schema["components"]["securitySchemes"]
