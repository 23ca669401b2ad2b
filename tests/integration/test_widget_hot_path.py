"""The widget's hot path (messenger/widget/hotpath.py) on PostgreSQL and Redis: that it is
really taken, that it keeps every guarantee of the general path, and when it steps aside.

Which path served a call is read from the ``messenger_widget_path_total`` counter: a test
that only looked at answers would pass just as well if everything went the general way.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db.direct import asyncpg_dsn
from messenger.db.models import Conversation, ConversationStatus, Message, UserRole, Visitor
from messenger.inboxes.service import InboxService
from tests.support.app import ClientFactory
from tests.support.desk import OperatorDesk
from tests.support.factories import make_branch, make_inbox, make_user
from tests.support.widget import ORIGIN, WidgetVisitor

pytestmark = pytest.mark.timeout(60)


class Paths:
    """How many calls each path served since this was made."""

    def __init__(self) -> None:
        self._start = self._now()

    @staticmethod
    def _now() -> dict[tuple[str, str], float]:
        return {
            (call, path): REGISTRY.get_sample_value(
                "messenger_widget_path_total", {"call": call, "path": path}
            )
            or 0.0
            for call in ("send", "poll", "bootstrap", "typing")
            for path in ("hot", "general", "first")
        }

    def since(self, call: str, path: str) -> int:
        return int(self._now()[(call, path)] - self._start[(call, path)])


async def test_sends_polls_and_bootstraps_of_a_returning_visitor_take_the_hot_path(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        paths = Paths()
        first = await tab.send("Hello")  # creates the conversation (first_message.py)
        second = await tab.send("Where is my order?", page_url="https://shop.example/orders")
        third = await tab.send("  Order 42  ")
        polled = await tab.poll(after=first["id"])
        typing = await tab.post("/typing", {"typing": True})
        restored = await tab.bootstrap()

    assert paths.since("send", "first") == 1
    assert paths.since("send", "general") == 0
    assert paths.since("send", "hot") == 2
    assert paths.since("poll", "hot") == 1
    assert paths.since("bootstrap", "hot") == 1
    assert typing.status_code == 204
    assert (paths.since("typing", "hot"), paths.since("typing", "general")) == (1, 0)
    # The same shape as the general path's message, body cleaned the same way.
    assert set(second) == set(first)
    assert third["body"] == "Order 42"
    assert (second["sender"], second["kind"], second["author"], second["attachments"]) == (
        "visitor",
        "message",
        None,
        [],
    )
    assert first["id"] < second["id"] < third["id"]
    assert [m["id"] for m in polled["messages"]] == [second["id"], third["id"]]
    assert polled["messages"][0] == second
    assert [m["id"] for m in restored["messages"]] == [first["id"], second["id"], third["id"]]
    assert restored["conversation"] == polled["conversation"]
    conversation = (await db_session.scalars(select(Conversation))).one()
    row = await db_session.get(Conversation, conversation.id, populate_existing=True)
    assert row is not None
    assert row.status == ConversationStatus.OPEN


async def test_the_hot_path_records_what_the_message_tells_about_the_visitor(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        await tab.send("Hello", page_url="https://shop.example/")
        paths = Paths()
        await tab.send("More", page_url="https://shop.example/cart")
    assert paths.since("send", "hot") == 1
    visitor = (await db_session.scalars(select(Visitor))).one()
    await db_session.refresh(visitor)
    assert visitor.page_url == "https://shop.example/cart"


async def test_a_repeated_client_msg_id_changes_nothing_even_after_a_resolve(
    db_session: AsyncSession, widget_client: ClientFactory, desk: OperatorDesk
) -> None:
    branch = await make_branch(db_session)
    inbox = await make_inbox(db_session, branch=branch)
    admin = await make_user(db_session, [branch], role=UserRole.ADMIN)
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        await tab.send("Hello")
        stored = await tab.send("Order 42", "order-42")
        conversation = (await db_session.scalars(select(Conversation))).one()
        await desk.set_status(conversation.id, admin.id, "resolved")
        retried = await tab.send_raw("Order 42", "order-42")

    assert retried.status_code == 200
    assert retried.json() == stored
    row = await db_session.get(Conversation, conversation.id, populate_existing=True)
    assert row is not None
    assert row.status == ConversationStatus.RESOLVED  # the retry did not reopen it


async def test_a_new_message_reopens_a_resolved_conversation_on_the_hot_path(
    db_session: AsyncSession, widget_client: ClientFactory, desk: OperatorDesk
) -> None:
    branch = await make_branch(db_session)
    inbox = await make_inbox(db_session, branch=branch)
    admin = await make_user(db_session, [branch], role=UserRole.ADMIN)
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        await tab.send("Hello")
        conversation = (await db_session.scalars(select(Conversation))).one()
        await desk.set_status(conversation.id, admin.id, "resolved")
        paths = Paths()
        await tab.send("One more question")
        polled = await tab.poll()

    assert paths.since("send", "hot") == 1
    assert polled["conversation"]["status"] == "open"
    row = await db_session.get(Conversation, conversation.id, populate_existing=True)
    assert row is not None
    assert row.status == ConversationStatus.OPEN


async def test_parallel_sends_of_one_visitor_are_all_stored_once_in_id_order(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        await tab.send("Hello")
        ids = [f"burst-{n}" for n in range(20)]
        # Each id twice, all at once: 20 messages, each stored once.
        answers = await asyncio.gather(*(tab.send_raw(f"m {i}", i) for i in ids + ids))
        polled = await tab.poll()

    assert {a.status_code for a in answers} <= {200, 201}
    by_client_id: dict[str, set[int]] = {}
    for answer in answers:
        by_client_id.setdefault(answer.json()["client_msg_id"], set()).add(answer.json()["id"])
    assert all(len(stored) == 1 for stored in by_client_id.values())
    assert len(by_client_id) == 20
    got = [m["id"] for m in polled["messages"]]
    assert got == sorted(got)
    assert len(got) == 21
    count = len((await db_session.scalars(select(Message))).all())
    assert count == 21


async def test_an_allowlist_change_applies_to_the_next_call(
    db_session: AsyncSession, widget_client: ClientFactory, desk: OperatorDesk
) -> None:
    """The inbox cache learns of the change through the generation bumped after commit."""
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        await tab.send("Hello")
        await tab.send("cached now")
        async with desk.transaction() as db:
            await InboxService(session=db).set_domains(inbox.id, ["other.example"])
        refused = await tab.send_raw("after the change")
        async with desk.transaction() as db:
            await InboxService(session=db).set_domains(inbox.id, [ORIGIN.split("//")[1]])
        allowed = await tab.send_raw("allowed again")

    assert refused.status_code == 403
    assert refused.json()["error"] == "origin_not_allowed"
    assert allowed.status_code == 201


async def test_a_dead_database_connection_is_replaced_without_an_error(
    db_session: AsyncSession, widget_client: ClientFactory, settings: Settings
) -> None:
    """No ping per checkout: a statement on a connection PostgreSQL closed is retried once."""
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        await tab.send("Hello")
        await tab.send("the hot path's pool is open now")
        admin = await asyncpg.connect(asyncpg_dsn(settings.effective_database_url))
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'messenger-hot-path' AND datname = current_database()"
            )
        finally:
            await admin.close()
        paths = Paths()
        after = await tab.send_raw("after the restart")

    assert killed >= 1
    assert after.status_code == 201
    assert paths.since("send", "hot") == 1


async def test_a_poll_that_receives_an_operator_message_stamps_it_delivered(
    db_session: AsyncSession, widget_client: ClientFactory, desk: OperatorDesk
) -> None:
    branch = await make_branch(db_session)
    inbox = await make_inbox(db_session, branch=branch)
    operator = await make_user(db_session, [branch])
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        mine = await tab.send("Hello")
        conversation = (await db_session.scalars(select(Conversation))).one()
        reply = await desk.reply(conversation.id, operator.id, "Hi! How can I help?")
        paths = Paths()
        first = await tab.poll(after=mine["id"])
        again = await tab.poll(after=mine["id"])

    assert paths.since("poll", "general") == 1  # stamps delivered (and tells staff)
    assert paths.since("poll", "hot") == 1  # nothing left to stamp
    assert [m["id"] for m in first["messages"]] == [reply.id]
    assert again["messages"][0]["delivered_at"] is not None
    stored = await db_session.get(Message, reply.id, populate_existing=True)
    assert stored is not None
    assert stored.delivered_at is not None


async def test_a_closed_conversation_is_not_written_to(
    db_session: AsyncSession, widget_client: ClientFactory, desk: OperatorDesk
) -> None:
    branch = await make_branch(db_session)
    inbox = await make_inbox(db_session, branch=branch)
    admin = await make_user(db_session, [branch], role=UserRole.ADMIN)
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        await tab.send("Hello")
        closed = (await db_session.scalars(select(Conversation))).one()
        await desk.set_status(closed.id, admin.id, "closed")
        polled = await tab.poll()
        sent = await tab.send(f"new {uuid.uuid4().hex}")

    assert polled == {"messages": [], "conversation": None}
    assert sent["conversation_id"] != str(closed.id)  # a new conversation
