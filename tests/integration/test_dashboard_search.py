"""The unified messenger's list at scale, over HTTP on real PostgreSQL: full-text search in
Russian and English with stemming, escaped highlights, notes for staff in scope only, keyset
pages that neither repeat nor skip while conversations arrive, the live list's top rows and
the count of each view."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from messenger.conversations.service import ConversationService
from messenger.db.models import Branch, Conversation, Inbox, MessageSender, User, UserRole
from tests.support.app import app_client
from tests.support.dashboard import listed_ids, quick_user, signed_in
from tests.support.factories import make_branch, make_conversation, make_inbox

pytestmark = pytest.mark.timeout(120)

HX = {"HX-Request": "true"}
_NEXT = re.compile(r"""<li class="more">.*?hx-vals='([^']*)'""", re.S)
_IDS = re.compile(r'id="conv-([0-9a-f-]{36})"')


@pytest.fixture
def app_env(env: dict[str, str], tmp_path: Any) -> dict[str, str]:
    return {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}


@pytest.fixture
async def client(app_env: dict[str, str]) -> Any:
    async with app_client(app_env, relaxed=True) as test_client:
        yield test_client


class Desk:
    """Two branches; a Russian inbox in A, an English one in B, a global one without a
    language (its conversations go to A); an operator of each branch and an admin."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def build(self) -> Desk:
        self.branch_a: Branch = await make_branch(self.db, "Alpha")
        self.branch_b: Branch = await make_branch(self.db, "Beta")
        self.ru: Inbox = await make_inbox(
            self.db, name="Магазин", branch=self.branch_a, settings={"locale": "ru"}
        )
        self.en: Inbox = await make_inbox(
            self.db, name="Shop", branch=self.branch_b, settings={"locale": "en"}
        )
        self.any: Inbox = await make_inbox(self.db, name="Global", fallback=self.branch_a)
        self.anna: User = await quick_user(
            self.db, [self.branch_a], email="anna@example.com", name="Anna"
        )
        self.boris: User = await quick_user(
            self.db, [self.branch_b], email="boris@example.com", name="Boris"
        )
        self.admin: User = await quick_user(
            self.db, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN
        )
        await self.db.commit()
        return self

    async def conversation(self, inbox: Inbox, *bodies: str, **visitor: Any) -> str:
        branch = self.branch_b if inbox is self.en else self.branch_a
        row = await make_conversation(self.db, inbox, branch.id, **visitor)
        service = ConversationService(session=self.db)
        for body in bodies:
            await service.append(row, sender=MessageSender.VISITOR, body=body)
        await self.db.commit()
        return str(row.id)


@pytest.fixture
async def desk(db_session: AsyncSession) -> Desk:
    return await Desk(db_session).build()


async def search(client: httpx.AsyncClient, text: str, **params: str) -> httpx.Response:
    response = await client.get(
        "/conversations", params={"q": text, "status": "any", **params}, headers=HX
    )
    assert response.status_code == 200, response.text
    return response


async def test_search_stems_russian_and_english_and_marks_the_words_escaped(client, desk):
    ru = await desk.conversation(desk.ru, "Когда будет доставка моего заказа?")
    hostile = await desk.conversation(
        desk.ru, "<script>alert(1)</script> доставка <b>сегодня</b> \x02 & co"
    )
    other_ru = await desk.conversation(desk.ru, "Хочу оформить возврат")
    both = await desk.conversation(desk.any, "Deliveries are late; доставку перенесли")
    await signed_in(client, desk.admin.email)

    found = await search(client, "доставки")
    assert listed_ids(found.text) == {ru, hostile, both}
    assert other_ru not in found.text
    assert "<mark>доставка</mark>" in found.text
    assert "<mark>доставку</mark>" in found.text
    # Visitors' text is text: escaped, and only our marks are markup.
    assert "<script>alert" not in found.text
    assert "<b>" not in found.text
    snippets = re.findall(r'class="headline">(.*?)</span>', found.text, re.S)
    assert "alert(1)&lt;/script&gt; <mark>доставка</mark> &lt;b&gt;сегодня" in "".join(snippets)
    assert not {"\x02", "\x03", "\x04", "\x05"} & set(found.text)

    en = await desk.conversation(desk.en, "Where is my delivery? It was due on Monday")
    found = await search(client, "deliveries")
    assert listed_ids(found.text) == {en, both}
    assert "<mark>delivery</mark>" in found.text
    assert "<mark>Deliveries</mark>" in found.text
    # A phrase keeps its words together; a miss is an empty list, not an error.
    assert listed_ids((await search(client, '"моего заказа"')).text) == {ru}
    assert listed_ids((await search(client, '"заказа моего"')).text) == set()
    assert listed_ids((await search(client, "the")).text) == set()  # only a stop word


async def test_visitor_name_email_and_phone_fragments_are_found(client, desk):
    named = await desk.conversation(desk.ru, "привет", name="Светлана Морозова")
    mailed = await desk.conversation(desk.ru, "hello", email="sveta.m@example.org")
    phoned = await desk.conversation(desk.ru, "hi", phone="+7 (912) 345-67-89")
    await signed_in(client, desk.anna.email)
    assert listed_ids((await search(client, "морозов")).text) == {named}
    assert listed_ids((await search(client, "sveta.m@example")).text) == {mailed}
    assert listed_ids((await search(client, "345-67")).text) == {phoned}
    assert listed_ids((await search(client, "9123456")).text) == {phoned}  # digits only
    assert listed_ids((await search(client, "%")).text) == set()


async def test_notes_are_found_by_staff_in_scope_and_never_by_outsiders(client, desk, db_session):
    conversation_id = await desk.conversation(desk.ru, "Здравствуйте")
    row = await db_session.get(Conversation, conversation_id)
    anna = await db_session.get(User, desk.anna.id)
    await ConversationService(session=db_session).add_note(row, anna, "Клиент постоянный, скидка")
    await db_session.commit()
    secret = await desk.conversation(desk.en, "Our discount policy is secret")

    await signed_in(client, desk.anna.email)
    found = await search(client, "скидки")
    assert listed_ids(found.text) == {conversation_id}
    assert "<mark>скидка</mark>" in found.text
    assert secret not in (await search(client, "discount")).text  # Beta's, not Anna's

    await signed_in(client, desk.boris.email)
    assert listed_ids((await search(client, "скидки")).text) == set()
    assert listed_ids((await search(client, "discount")).text) == {secret}

    await signed_in(client, desk.admin.email)
    assert listed_ids((await search(client, "скидки")).text) == {conversation_id}


async def spread(db: AsyncSession, ids: list[str], newest: datetime) -> None:
    """Give the conversations distinct activity times, the first the newest."""
    for n, cid in enumerate(ids):
        await db.execute(
            update(Conversation)
            .where(Conversation.id == cid)
            .values(last_activity_at=newest - timedelta(minutes=n))
        )
    await db.commit()


async def pages(client: httpx.AsyncClient, params: dict[str, str], between: Any) -> list[str]:
    """Every conversation the list shows, following its "more" link page after page;
    ``between()`` runs before each next page."""
    response = await client.get("/conversations", params=params, headers=HX)
    assert response.status_code == 200
    seen = _IDS.findall(response.text)
    while link := _NEXT.search(response.text):
        await between()
        response = await client.get(
            "/conversations", params={**params, **json.loads(link.group(1))}, headers=HX
        )
        assert response.status_code == 200
        assert not response.text.lstrip().startswith("<ul")  # rows only, added below
        seen += _IDS.findall(response.text)
    return seen


async def test_pages_neither_repeat_nor_skip_while_conversations_arrive(client, desk, db_session):
    older = [await desk.conversation(desk.ru, f"вопрос {n}") for n in range(115)]
    await spread(db_session, older, datetime.now(UTC) - timedelta(days=1))
    arrived: list[str] = []

    async def one_more() -> None:
        arrived.append(await desk.conversation(desk.ru, "новый вопрос про доставку"))

    await signed_in(client, desk.anna.email)
    seen = await pages(client, {"status": "open"}, one_more)
    assert len(arrived) == 2  # 115 rows: three pages of 50
    assert seen == older  # in order, once each; the new ones are above the first page

    # The live list asks for what is above its top row: exactly the arrivals, newest first.
    top = re.search(r'data-cursor="([^"]+)"', (await client.get("/conversations")).text)
    assert top
    first = await client.get(
        "/conversations", params={"part": "top", "after": "2000-01-01T00:00:00+00:00~" + older[0]}
    )
    assert _IDS.findall(first.text) == [*reversed(arrived), *older[:48]]
    live = await client.get("/conversations", params={"part": "top", "after": top.group(1)})
    assert _IDS.findall(live.text) == []
    fresh = await desk.conversation(desk.ru, "ещё один")
    live = await client.get("/conversations", params={"part": "top", "after": top.group(1)})
    assert _IDS.findall(live.text) == [fresh]
    assert 'id="count-all" hx-swap-oob="true">118<' in live.text
    assert 'id="count-unassigned" hx-swap-oob="true">118<' in live.text
    assert 'id="count-mine" hx-swap-oob="true">0<' in live.text

    # Search pages too: a frozen window, so new matches do not shift the pages.
    before_search = {*older, *arrived}
    found = await pages(client, {"status": "any", "q": "вопрос"}, one_more)
    assert len(arrived) == 4
    assert len(found) == len(set(found)) == len(before_search) == 117
    assert set(found) == before_search


async def test_bad_page_links_are_422_not_500(client, desk):
    await signed_in(client, desk.anna.email)
    for params in (
        {"before": "yesterday~x"},
        {"after": "2026-01-01T00:00:00~" + "0" * 32},  # no time zone
        {"before": "2026-01-01T00:00:00+00:00~not-a-uuid"},
        {"q": "x", "page": "1.2"},
        {"q": "x", "page": "9.1.0"},
        {"q": "x", "page": "99999999999999999999.1.1"},
    ):
        response = await client.get("/conversations", params=params, headers=HX)
        assert response.status_code == 422, (params, response.status_code)


async def test_view_counts_follow_the_filters(client, desk, db_session):
    mine = await desk.conversation(desk.ru, "один")
    await desk.conversation(desk.ru, "два")
    await desk.conversation(desk.en, "three")  # Beta's
    row = await db_session.get(Conversation, mine)
    row.assignee_id = desk.anna.id
    await db_session.commit()
    await signed_in(client, desk.anna.email)
    page = (await client.get("/conversations")).text
    for view, count in (("mine", 1), ("unassigned", 1), ("all", 2)):
        assert f'<span class="count" id="count-{view}">{count}</span>' in page
    counts = (await client.get("/conversations", params={"part": "counts"})).text
    assert 'id="count-all" hx-swap-oob="true">2<' in counts
    assert "conversation-item" not in counts


async def test_embedded_sqlite_search_is_a_substring_match_marked_and_escaped(tmp_path):
    """Without PostgreSQL (make run's SQLite): a substring (case-insensitive for ASCII, as
    SQLite's LIKE is), newest first,
    highlighted in Python, escaped, paged; the scope rules are the same."""
    from messenger.config import Settings
    from messenger.conversations.listing import ConversationFilters
    from messenger.conversations.search import search_conversations
    from messenger.db import alchemy_config
    from tests.support.env import cli_env, run_cli

    env = cli_env(MESSENGER_DATA_DIR=str(tmp_path))
    run_cli("db", "upgrade", "--no-prompt", env=env, check=True)
    config = alchemy_config(Settings.from_env(env))
    try:
        async with config.get_session() as db:
            desk = await Desk(db).build()
            hostile = await desk.conversation(desk.ru, "<i>delivery</i> tomorrow")
            plain = await desk.conversation(desk.ru, "Where is the Delivery?")
            await desk.conversation(desk.en, "delivery in Beta")  # not Anna's
            anna = await db.get(User, desk.anna.id, options=[selectinload(User.branches)])
            found = await search_conversations(
                db, anna, ConversationFilters(status=None, search="DELIVERY"), limit=1
            )
            assert [str(r.conversation.id) for r in found.rows] == [plain]
            assert str(found.rows[0].extra["headline"]) == "Where is the <mark>Delivery</mark>?"
            assert found.next is not None
            rest = await search_conversations(
                db, anna, ConversationFilters(status=None, search="DELIVERY"), found.next
            )
            assert [str(r.conversation.id) for r in rest.rows] == [hostile]
            headline = str(rest.rows[0].extra["headline"])
            assert headline == "&lt;i&gt;<mark>delivery</mark>&lt;/i&gt; tomorrow"
            assert rest.next is None
    finally:
        await config.get_engine().dispose()


async def test_live_refresh_redraws_changed_rows_and_drops_those_that_left_the_filter(
    client, desk, db_session
):
    ids = [await desk.conversation(desk.ru, f"вопрос {n}") for n in range(3)]
    await spread(db_session, ids, datetime.now(UTC) - timedelta(hours=1))
    await signed_in(client, desk.anna.email)
    page = (await client.get("/conversations", params={"status": "open"})).text
    cursors = re.findall(r'data-cursor="([^"]+)"', page)
    since = re.search(r'data-since="([^"]+)"', page)
    assert len(cursors) == 3
    assert since

    service = ConversationService(session=db_session)
    anna = await db_session.get(User, desk.anna.id, options=[selectinload(User.branches)])
    await service.change_status(await db_session.get(Conversation, ids[1]), "resolved", anna)
    await service.set_priority(await db_session.get(Conversation, ids[2]), "urgent", anna)
    await db_session.commit()

    params = {"status": "open", "part": "top", "after": cursors[0], "bottom": cursors[-1]}
    live = (await client.get("/conversations", params={**params, "since": since.group(1)})).text
    added, _, changes = live.partition("<template")
    assert _IDS.findall(added) == []
    assert f'data-gone="{ids[1]}"' in changes
    assert _IDS.findall(changes) == [ids[2]]
    assert "pill priority-urgent" in changes
    assert 'id="count-all" hx-swap-oob="true">2<' in live
    # Nothing changed since this refresh: nothing to redraw; a bad "since" is no change.
    later = re.search(r'data-since="([^"]+)"', live)
    assert later
    again = (await client.get("/conversations", params={**params, "since": later.group(1)})).text
    assert "<template" not in again
    garbage = await client.get("/conversations", params={**params, "since": "yesterday"})
    assert garbage.status_code == 200
    assert "<template" not in garbage.text
