"""The operator's day over HTTP: the admin labels page, labels on a conversation and the
list filter, snooze and transfer forms, auto-assignment on the widget's first message,
the inbox and operator settings, branch scope (404) and CSRF (403)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import (
    Branch,
    Conversation,
    ConversationStatus,
    Inbox,
    Label,
    Message,
    MessageKind,
    User,
    UserRole,
)
from messenger.presence import RedisPresence
from tests.integration.test_dashboard_admin import settings_form
from tests.support.app import app_client
from tests.support.dashboard import (
    Visitor,
    form_post,
    fresh,
    hx_post,
    listed_ids,
    quick_user,
    signed_in,
)
from tests.support.factories import make_branch, make_inbox

pytestmark = pytest.mark.timeout(120)

ORIGIN = "https://shop.example"


@dataclass
class World:
    alpha: Branch
    beta: Branch
    anna: User  # operator of Alpha
    boris: User  # operator of Beta
    admin: User
    inbox: Inbox  # Alpha's


@pytest.fixture
def app_env(env: dict[str, str], tmp_path: Any) -> dict[str, str]:
    return {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}


@pytest.fixture
async def world(db_session: AsyncSession) -> World:
    alpha, beta = await make_branch(db_session, "Alpha"), await make_branch(db_session, "Beta")
    world = World(
        alpha=alpha,
        beta=beta,
        anna=await quick_user(db_session, [alpha], email="anna@example.com", name="Anna"),
        boris=await quick_user(db_session, [beta], email="boris@example.com", name="Boris"),
        admin=await quick_user(
            db_session, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN
        ),
        inbox=await make_inbox(db_session, name="Alpha shop", branch=alpha),
    )
    await db_session.commit()
    return world


@pytest.fixture
async def client(app_env: dict[str, str]) -> Any:
    async with app_client(app_env, relaxed=True) as test_client:
        yield test_client


async def start_conversation(client: httpx.AsyncClient, world: World, body: str = "hi") -> str:
    visitor = Visitor(client, world.inbox.widget_token, ORIGIN)
    return str((await visitor.send(body))["conversation_id"])


async def make_label(db: AsyncSession, ru: str, en: str, color: str = "#ff0000") -> Label:
    label = Label(name_ru=ru, name_en=en, color=color)
    db.add(label)
    await db.commit()
    return label


# --- labels ---------------------------------------------------------------------------------


async def test_admin_manages_labels_and_operators_cannot(
    client: httpx.AsyncClient, world: World, db_session: AsyncSession, app_env: dict[str, str]
) -> None:
    await signed_in(client, world.admin.email)
    page = await client.get("/admin/labels")
    assert page.status_code == 200
    assert "No labels yet." in page.text
    without_token = await client.post(
        "/admin/labels", data={"name_ru": "ВИП", "name_en": "VIP"}, follow_redirects=False
    )
    assert without_token.status_code == 403
    created = await form_post(
        client, "/admin/labels", {"name_ru": "ВИП", "name_en": "VIP", "color": "#00aa00"}
    )
    assert created.status_code == 303
    refused = await form_post(
        client, "/admin/labels", {"name_ru": "", "name_en": "Empty", "color": "#00aa00"}
    )
    assert refused.status_code == 400
    assert "A label needs a Russian and an English name." in refused.text
    label = await db_session.scalar(select(Label))
    assert label is not None
    assert (label.name_ru, label.name_en, label.color) == ("ВИП", "VIP", "#00aa00")
    saved = await form_post(
        client,
        f"/admin/labels/{label.id}",
        {"name_ru": "Важный", "name_en": "Important", "color": "#0000ff"},
    )
    assert saved.status_code == 303
    label = await fresh(db_session, Label, label.id)
    assert label.name_en == "Important"
    page = await client.get("/admin/labels")
    assert "Important" in page.text
    assert 'data-color="#0000ff"' in page.text
    assert (await form_post(client, "/admin/labels/999999", {"delete": "1"})).status_code == 404
    deleted = await form_post(client, f"/admin/labels/{label.id}", {"delete": "1"})
    assert deleted.status_code == 303
    assert await db_session.scalar(select(Label)) is None

    async with app_client(app_env, relaxed=True) as operator:
        await signed_in(operator, world.anna.email)
        assert (await operator.get("/admin/labels")).status_code == 404


async def test_labels_on_a_conversation_in_the_header_the_list_and_its_filter(
    client: httpx.AsyncClient, world: World, db_session: AsyncSession, app_env: dict[str, str]
) -> None:
    vip = await make_label(db_session, "ВИП", "VIP")
    labelled = await start_conversation(client, world, "first")
    plain = await start_conversation(client, world, "second")
    await signed_in(client, world.anna.email)
    base = f"/conversations/{labelled}"
    pane = await client.get(base)
    assert "Add label" in pane.text

    no_token = await client.post(
        f"{base}/labels", data={"label_id": str(vip.id)}, headers={"HX-Request": "true"}
    )
    assert no_token.status_code == 403
    added = await hx_post(client, f"{base}/labels", {"label_id": str(vip.id), "action": "add"})
    assert added.status_code == 200
    assert "Remove label VIP" in added.text
    assert (await hx_post(client, f"{base}/labels", {"label_id": "x"})).status_code == 422
    assert (await hx_post(client, f"{base}/labels", {"label_id": "99999"})).status_code == 404

    everything = await client.get("/conversations", params={"status": "any"})
    assert 'class="label-chip"' in everything.text
    assert listed_ids(everything.text) == {labelled, plain}
    filtered = await client.get("/conversations", params={"status": "any", "label": vip.id})
    assert listed_ids(filtered.text) == {labelled}
    more = await client.get(
        "/conversations", params={"status": "any", "label": vip.id, "part": "more"}
    )
    assert listed_ids(more.text) == {labelled}

    # Another branch's operator: 404 on the conversation's label form.
    async with app_client(app_env, relaxed=True) as outsider:
        await signed_in(outsider, world.boris.email)
        await outsider.get("/conversations")
        response = await hx_post(outsider, f"{base}/labels", {"label_id": str(vip.id)})
        assert response.status_code == 404

    removed = await hx_post(client, f"{base}/labels", {"label_id": str(vip.id), "action": "remove"})
    assert removed.status_code == 200
    assert "Remove label VIP" not in removed.text
    filtered = await client.get("/conversations", params={"status": "any", "label": vip.id})
    assert listed_ids(filtered.text) == set()

    # The name follows the operator's language.
    await hx_post(client, f"{base}/labels", {"label_id": str(vip.id)})
    await hx_post(client, "/account/locale", {"locale": "ru"})
    russian = await client.get("/conversations", params={"status": "any"})
    assert "ВИП" in russian.text


# --- snooze ---------------------------------------------------------------------------------


async def test_snooze_form_and_the_visitor_waking_it(
    client: httpx.AsyncClient, world: World, db_session: AsyncSession, app_env: dict[str, str]
) -> None:
    visitor = Visitor(client, world.inbox.widget_token, ORIGIN)
    conversation_id = str((await visitor.send("hello"))["conversation_id"])
    await signed_in(client, world.anna.email)
    base = f"/conversations/{conversation_id}"
    await client.get(base)
    bad = await hx_post(client, f"{base}/snooze", {"preset": "custom", "until": "tomorrow"})
    assert bad.status_code == 422
    assert "Choose a date and time to snooze until." in bad.text
    past = await hx_post(
        client, f"{base}/snooze", {"preset": "custom", "until": "2020-01-01T09:00"}
    )
    assert past.status_code == 422
    snoozed = await hx_post(client, f"{base}/snooze", {"preset": "tomorrow"})
    assert snoozed.status_code == 200
    assert "Snoozed until" in snoozed.text
    row = await fresh(db_session, Conversation, UUID(conversation_id))
    assert row.status == ConversationStatus.PENDING
    assert row.snoozed_until is not None
    assert (row.snoozed_until.hour, row.snoozed_until.minute) == (9, 0)  # 09:00 UTC (default)

    async with app_client(app_env, relaxed=True) as outsider:
        await signed_in(outsider, world.boris.email)
        await outsider.get("/conversations")
        assert (await hx_post(outsider, f"{base}/snooze", {"preset": "hour"})).status_code == 404

    await visitor.send("are you there?")  # the visitor writes: open again at once
    row = await fresh(db_session, Conversation, UUID(conversation_id))
    assert (row.status, row.snoozed_until) == (ConversationStatus.OPEN, None)


# --- transfer -------------------------------------------------------------------------------


async def test_transfer_form_moves_the_conversation_to_another_branch(
    client: httpx.AsyncClient, world: World, db_session: AsyncSession, app_env: dict[str, str]
) -> None:
    visitor = Visitor(client, world.inbox.widget_token, ORIGIN)
    conversation_id = str((await visitor.send("hello"))["conversation_id"])
    await signed_in(client, world.anna.email)
    base = f"/conversations/{conversation_id}"
    pane = await client.get(base)
    assert "Transfer" in pane.text
    no_token = await client.post(
        f"{base}/transfer", data={"branch_id": str(world.beta.id)}, headers={"HX-Request": "true"}
    )
    assert no_token.status_code == 403
    nothing = await hx_post(client, f"{base}/transfer", {"branch_id": "", "operator_id": ""})
    assert nothing.status_code == 422
    moved = await hx_post(
        client,
        f"{base}/transfer",
        {"branch_id": str(world.beta.id), "note": "Beta handles <b>returns</b>"},
    )
    assert moved.status_code == 200
    assert moved.headers.get("hx-redirect") == "/conversations"
    assert (await client.get(base)).status_code == 404  # Anna lost it
    assert conversation_id not in listed_ids((await client.get("/conversations")).text)

    async with app_client(app_env, relaxed=True) as beta:
        await signed_in(beta, world.boris.email)
        assert conversation_id in listed_ids((await beta.get("/conversations")).text)
        page = await beta.get(base)
        assert page.status_code == 200
        assert "The conversation was transferred" in page.text
        assert "Beta handles &lt;b&gt;returns&lt;/b&gt;" in page.text  # the note, escaped

    polled = await visitor.poll()
    events = [m for m in polled["messages"] if m["kind"] == "event"]
    assert [e["body"] for e in events] == ["transferred"]
    assert all("Beta handles" not in m["body"] for m in polled["messages"])
    notes = list(
        await db_session.scalars(
            select(Message).where(
                Message.conversation_id == UUID(conversation_id), Message.kind == MessageKind.NOTE
            )
        )
    )
    assert [n.author_id for n in notes] == [world.anna.id]


# --- auto-assignment and its settings ------------------------------------------------------


async def test_round_robin_inbox_assigns_the_first_message_to_an_online_operator(
    client: httpx.AsyncClient,
    world: World,
    db_session: AsyncSession,
    redis: Redis,
    redis_prefix: str,
) -> None:
    await signed_in(client, world.admin.email)
    page = await client.get(f"/admin/inboxes/{world.inbox.id}")
    assert "Auto-assignment" in page.text
    inbox = await fresh(db_session, Inbox, world.inbox.id)
    assert inbox.settings["assignment"] == {"mode": "manual"}

    # The operators page sets a capacity; a bad one is refused with a reason.
    form = {"name": "Anna", "role": "operator", "branch_ids": [str(world.alpha.id)]}
    saved = await form_post(
        client, f"/admin/operators/{world.anna.id}", {**form, "is_active": "1", "capacity": "3"}
    )
    assert saved.status_code == 303
    assert (await fresh(db_session, User, world.anna.id)).capacity == 3
    refused = await form_post(
        client, f"/admin/operators/{world.anna.id}", {**form, "is_active": "1", "capacity": "-1"}
    )
    assert refused.status_code == 400
    assert "Capacity must be a whole number" in refused.text

    inbox.settings = {**inbox.settings, "assignment": {"mode": "round_robin"}}
    await db_session.commit()
    presence = RedisPresence(redis, prefix=f"{redis_prefix}:presence")
    await presence.touch(world.anna.id, [world.alpha.id])
    first = await start_conversation(client, world)
    conversation = await fresh(db_session, Conversation, UUID(first))
    assert conversation.assignee_id == world.anna.id
    # Nobody online: the next one stays unassigned.
    await presence.leave(world.anna.id, [world.alpha.id])
    other = Visitor(client, world.inbox.widget_token, ORIGIN, user_agent="Another browser")
    second = str((await other.send("hello"))["conversation_id"])
    assert (await fresh(db_session, Conversation, UUID(second))).assignee_id is None


async def test_inbox_page_saves_the_assignment_mode(
    client: httpx.AsyncClient, world: World, db_session: AsyncSession
) -> None:
    await signed_in(client, world.admin.email)
    saved = await form_post(
        client,
        f"/admin/inboxes/{world.inbox.id}",
        {**settings_form(), "assignment_mode": "least_busy"},
    )
    assert saved.status_code == 200, saved.text
    assert 'value="least_busy" selected' in saved.text
    inbox = await fresh(db_session, Inbox, world.inbox.id)
    assert inbox.settings["assignment"] == {"mode": "least_busy"}
    wrong = await form_post(
        client,
        f"/admin/inboxes/{world.inbox.id}",
        {**settings_form(), "assignment_mode": "lottery"},
    )
    assert wrong.status_code == 400


async def test_the_operator_sets_their_time_zone_and_snooze_follows_it(
    client: httpx.AsyncClient, world: World, db_session: AsyncSession
) -> None:
    conversation_id = await start_conversation(client, world)
    await signed_in(client, world.anna.email)
    page = await client.get("/account")
    assert '<option value="Asia/Vladivostok"' in page.text
    wrong = await form_post(client, "/account/timezone", {"timezone": "Mars/Olympus"})
    assert wrong.status_code == 422
    assert (await client.post("/account/timezone", data={"timezone": "UTC"})).status_code == 403
    saved = await form_post(client, "/account/timezone", {"timezone": "Asia/Vladivostok"})
    assert saved.status_code == 303
    assert (await fresh(db_session, User, world.anna.id)).timezone == "Asia/Vladivostok"
    await client.get(f"/conversations/{conversation_id}")
    snoozed = await hx_post(
        client, f"/conversations/{conversation_id}/snooze", {"preset": "next_week"}
    )
    assert snoozed.status_code == 200
    row = await fresh(db_session, Conversation, UUID(conversation_id))
    # Monday 09:00 in Vladivostok (UTC+10) is Sunday 23:00 UTC.
    assert row.snoozed_until is not None
    assert (row.snoozed_until.weekday(), row.snoozed_until.hour) == (6, 23)
