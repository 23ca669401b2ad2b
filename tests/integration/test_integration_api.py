"""The integration REST API (``/api/v1/``) in-process against PostgreSQL and Redis: tokens,
scope, paging, filters, replies, notes, changes with the dashboard's rules, limits."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.api_tokens.service import ApiTokenService
from messenger.db.models import ApiToken, Label
from messenger.db.models.label import conversation_labels
from tests.support.api import A_ORIGIN, B_ORIGIN, Api, ApiWorld, build_api_world, issue
from tests.support.app import app_client
from tests.support.dashboard import Visitor

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def app_env(env: dict[str, str], tmp_path: Any) -> dict[str, str]:
    return {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}


@pytest.fixture
async def client(app_env: dict[str, str]) -> Any:
    async with app_client(app_env, relaxed=True) as test_client:
        yield test_client


@pytest.fixture
async def world(db_session: AsyncSession) -> ApiWorld:
    return await build_api_world(db_session)


async def conversation_of(
    client: httpx.AsyncClient, world: ApiWorld, branch: str, text_: str
) -> str:
    token, origin = (
        (world.inbox_a.widget_token, A_ORIGIN)
        if branch == "a"
        else (world.inbox_b.widget_token, B_ORIGIN)
    )
    sent = await Visitor(client, token, origin).send(text_)
    return str(sent["conversation_id"])


# --- authentication and scope -------------------------------------------------------------------


async def test_missing_malformed_and_revoked_tokens_are_401(client, world, db_session):
    cid = await conversation_of(client, world, "a", "hello")
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {world.all}"},
        {"Authorization": "Bearer msgr_not-a-token"},
        {"Authorization": f"Bearer {world.all}x"},
        {"Authorization": "Bearer " + "x" * 500},
    ):
        response = await client.get("/api/v1/conversations", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"] == "unauthorized"
        assert "Bearer" in response.headers["www-authenticate"]
    # A token in the URL is no token.
    assert (await client.get(f"/api/v1/conversations?token={world.all}")).status_code == 401

    api = Api(client, world.all)
    assert (await api.get(f"/conversations/{cid}")).status_code == 200
    row = await ApiTokenService(session=db_session).authenticate(world.all)
    assert row is not None
    await ApiTokenService(session=db_session).revoke(row.id)
    await db_session.commit()
    revoked = await api.get(f"/conversations/{cid}")
    assert revoked.status_code == 401
    assert revoked.json()["error"] == "unauthorized"


async def test_outside_the_tokens_branches_is_404(client, world):
    b_id = await conversation_of(client, world, "b", "beta secret")
    a_id = await conversation_of(client, world, "a", "alpha")
    api = Api(client, world.a)
    for response in (
        await api.get(f"/conversations/{b_id}"),
        await api.get(f"/conversations/{b_id}/messages"),
        await api.post(f"/conversations/{b_id}/messages", {"body": "x", "client_msg_id": "c1"}),
        await api.patch(f"/conversations/{b_id}", {"status": "resolved"}),
        await api.get(f"/conversations/{uuid.uuid4()}"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "not_found"
    listed = await api.ok("/conversations")
    assert [c["id"] for c in listed["items"]] == [a_id]
    # The token of every branch sees both; B's token only B's.
    assert len((await Api(client, world.all).ok("/conversations"))["items"]) == 2
    assert [c["id"] for c in (await Api(client, world.b).ok("/conversations"))["items"]] == [b_id]
    # Nothing was written to B's conversation.
    seen = await Api(client, world.b).ok(f"/conversations/{b_id}/messages")
    assert [m["body"] for m in seen["items"]] == ["beta secret"]


async def test_the_token_is_stored_only_as_its_hash(client, world, db_session):
    token = await issue(db_session, "Secret keeper", [])
    rows = (await db_session.execute(text("SELECT * FROM api_tokens"))).mappings().all()
    dumped = repr([dict(r) for r in rows])
    assert token not in dumped
    assert token[12:] not in dumped  # beyond the shown prefix, nothing of it
    row = (await db_session.scalars(select(ApiToken).where(ApiToken.name == "Secret keeper"))).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(row.prefix)
    assert len(row.prefix) == 12


async def test_last_used_time_is_kept(client, world, db_session):
    await Api(client, world.a).ok("/conversations")
    await db_session.commit()
    rows = {r.name: r for r in await ApiTokenService(session=db_session).ordered()}
    assert rows["CRM Alpha"].last_used_at is not None
    assert rows["CRM Beta"].last_used_at is None


async def test_each_token_has_its_own_rate_limit(app_env, world):
    async with app_client(app_env, relaxed=True, MESSENGER_API_RATE_PER_TOKEN="3/minute") as c:
        limited, other = Api(c, world.a), Api(c, world.b)
        for _ in range(3):
            assert (await limited.get("/conversations")).status_code == 200
        refused = await limited.get("/conversations")
        assert refused.status_code == 429
        assert refused.json()["error"] == "throttled"
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert refused.json()["retry_after"] == int(refused.headers["retry-after"])
        assert (await other.get("/conversations")).status_code == 200


# --- reading: paging and filters -------------------------------------------------------------


async def test_pages_follow_the_cursor_newest_activity_first_and_stay_stable(client, world):
    ids = [await conversation_of(client, world, "a", f"visitor {i}") for i in range(7)]
    api = Api(client, world.all)
    first = await api.ok("/conversations", limit=3)
    assert [c["id"] for c in first["items"]] == ids[::-1][:3]
    assert first["next_cursor"]
    # A new conversation arrives between pages: it goes above page 1, nothing shifts.
    newcomer = await conversation_of(client, world, "a", "late visitor")
    second = await api.ok("/conversations", limit=3, cursor=first["next_cursor"])
    third = await api.ok("/conversations", limit=3, cursor=second["next_cursor"])
    assert [c["id"] for c in second["items"]] == ids[::-1][3:6]
    assert [c["id"] for c in third["items"]] == ids[::-1][6:]
    assert third["next_cursor"] is None
    assert newcomer not in {c["id"] for page in (second, third) for c in page["items"]}
    again = await api.ok("/conversations", limit=3)
    assert again["items"][0]["id"] == newcomer
    item = again["items"][0]
    assert item["inbox"] == {"id": world.inbox_a.id, "name": "Alpha shop"}
    assert item["branch"] == {"id": world.branch_a.id, "name": "Alpha"}
    assert item["status"] == "open"
    assert item["labels"] == []
    assert item["unread_count"] == 1
    for bad in ("nonsense", "azEuYWJj", "!!"):
        refused = await api.get("/conversations", cursor=bad)
        assert refused.status_code == 422, bad
        assert refused.json()["error"] == "invalid"
    assert (await api.get("/conversations", limit=0)).status_code in {400, 422}
    assert (await api.get("/conversations", limit=101)).status_code in {400, 422}


async def test_filters(client, world, db_session):
    a1 = await conversation_of(client, world, "a", "where is my parcel")
    a2 = await conversation_of(client, world, "a", "refund please")
    b1 = await conversation_of(client, world, "b", "hello from beta")
    api = Api(client, world.all)

    def ids(page: dict[str, Any]) -> set[str]:
        return {c["id"] for c in page["items"]}

    assert (await api.patch(f"/conversations/{a2}", {"status": "pending"})).status_code == 200
    assign = {"assignee_email": world.artem.email}
    assert (await api.patch(f"/conversations/{a1}", assign)).status_code == 200
    assert ids(await api.ok("/conversations", status="pending")) == {a2}
    assert ids(await api.ok("/conversations", status="open")) == {a1, b1}
    assert ids(await api.ok("/conversations", inbox_id=world.inbox_b.id)) == {b1}
    assert ids(await api.ok("/conversations", branch_id=world.branch_a.id)) == {a1, a2}
    assert ids(await api.ok("/conversations", assignee_id=world.artem.id)) == {a1}
    assert ids(await api.ok("/conversations", q="parcel")) == {a1}
    # A's token asked for B's branch: nothing (scope first, then filters).
    assert (
        ids(await Api(client, world.a).ok("/conversations", branch_id=world.branch_b.id)) == set()
    )
    assert (await api.get("/conversations", status="archived")).status_code in {400, 422}
    # Labels by id or by name in either language; a label nobody has: nothing.
    vip = Label(name_ru="ВИП", name_en="VIP", color="#b91c1c")
    db_session.add(vip)
    await db_session.flush()
    await db_session.execute(
        conversation_labels.insert().values(conversation_id=uuid.UUID(b1), label_id=vip.id)
    )
    await db_session.commit()
    assert ids(await api.ok("/conversations", label="vip")) == {b1}
    assert ids(await api.ok("/conversations", label="вип")) == {b1}
    assert ids(await api.ok("/conversations", label=str(vip.id))) == {b1}
    assert ids(await api.ok("/conversations", label="nobody-has-it")) == set()
    (labelled,) = (await api.ok("/conversations", label="VIP"))["items"]
    assert labelled["labels"] == ["VIP"]


async def test_messages_in_order_with_notes_and_events_and_after(client, world):
    visitor = Visitor(client, world.inbox_a.widget_token, A_ORIGIN)
    cid = str((await visitor.send("first"))["conversation_id"])
    api = Api(client, world.all)
    await api.post(
        f"/conversations/{cid}/messages", {"body": "a note", "kind": "note", "client_msg_id": "n1"}
    )
    await api.post(f"/conversations/{cid}/messages", {"body": "a reply", "client_msg_id": "r1"})
    await api.patch(f"/conversations/{cid}", {"status": "resolved"})
    page = await api.ok(f"/conversations/{cid}/messages")
    kinds = [(m["kind"], m["sender"], m["body"]) for m in page["items"]]
    assert kinds == [
        ("message", "visitor", "first"),
        ("note", "operator", "a note"),
        ("message", "operator", "a reply"),
        ("event", "system", "status:resolved"),
    ]
    message_ids = [m["id"] for m in page["items"]]
    assert message_ids == sorted(message_ids)
    assert page["next_cursor"] is None
    two = await api.ok(f"/conversations/{cid}/messages", limit=2)
    assert [m["id"] for m in two["items"]] == message_ids[:2]
    rest = await api.ok(f"/conversations/{cid}/messages", after=two["next_cursor"])
    assert [m["id"] for m in rest["items"]] == message_ids[2:]


async def test_guessing_tokens_from_one_address_is_throttled(client, world):
    wrong = Api(client, "msgr_guess")
    answers = [(await wrong.get("/conversations")).status_code for _ in range(31)]
    assert answers[:30] == [401] * 30
    assert answers[30] == 429
    # A valid token from the same address still works: its own limit counts.
    assert (await Api(client, world.a).get("/conversations")).status_code == 200


async def test_errors_speak_the_callers_language(client, world):
    response = await client.get("/api/v1/conversations", headers={"Accept-Language": "ru"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert "API-токен" in response.json()["detail"]
