"""Functional tests of the Widget API (request/response calls) on PostgreSQL and Redis.

Most tests run the real app in-process (``AsyncTestClient``); the ones that depend on the
client address or on process environment (GeoIP, ``MESSENGER_DEFAULT_BRANCH_ID``) run a
live ``messenger serve`` process. Operator actions come from the pytest process through the
real services and publisher (see ``tests/widget_helpers.py``).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.service import ConversationService
from messenger.db.models import (
    Branch,
    Conversation,
    ConversationChannel,
    Inbox,
    Message,
    RoutingRule,
    Visitor,
)
from messenger.presence import RedisPresence
from tests.support.app import ClientFactory
from tests.support.desk import OperatorDesk
from tests.support.factories import make_branch, make_inbox, make_user
from tests.support.widget import ORIGIN, WidgetVisitor, count, fresh

pytestmark = pytest.mark.timeout(60)


ALL_WEEK = {
    day: [{"start": "00:00", "end": "24:00"}]
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


async def add_rule(
    db: AsyncSession, inbox: Inbox, target: Branch, conditions: dict[str, Any], position: int
) -> RoutingRule:
    rule = RoutingRule(
        inbox_id=inbox.id,
        position=position,
        name=f"rule {position}",
        conditions=conditions,
        target_branch_id=target.id,
    )
    db.add(rule)
    await db.commit()
    return rule


async def conversation_of(db: AsyncSession, conversation_id: str) -> Conversation:
    conversation = await fresh(db, Conversation, uuid.UUID(conversation_id))
    assert conversation is not None
    return conversation


async def visitor_of(db: AsyncSession, conversation_id: str) -> Visitor:
    conversation = await conversation_of(db, conversation_id)
    visitor = await fresh(db, Visitor, conversation.visitor_id)
    assert visitor is not None
    return visitor


# --- sessions ----------------------------------------------------------------------------


async def test_bootstrap_writes_no_rows_and_restores_the_session_with_its_history(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    branch = await make_branch(db_session)
    inbox = await make_inbox(db_session, branch=branch)

    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        first = await tab.bootstrap(page_url=f"{ORIGIN}/", locale="en")
        await WidgetVisitor(client, inbox.widget_token).bootstrap()  # another new visitor
        await tab.bootstrap()  # and the first one again

        assert first["conversation"] is None
        assert first["messages"] == []
        assert first["session_token"]
        assert first["stream_ticket"]
        assert await count(db_session, Visitor) == 0
        assert await count(db_session, Conversation) == 0

        hello = await tab.send("Hello")
        question = await tab.send("Is anyone there?")
        assert hello["conversation_id"] == question["conversation_id"]
        assert question["id"] > hello["id"]

        later = WidgetVisitor(client, inbox.widget_token)  # a page load later, same browser
        restored = await later.bootstrap(session_token=tab.session_token)
        again = await WidgetVisitor(client, inbox.widget_token).bootstrap(
            session_token=restored["session_token"]
        )
        stranger = await WidgetVisitor(client, inbox.widget_token).bootstrap()

    assert restored["conversation"] == {"id": hello["conversation_id"], "status": "open"}
    assert [(m["id"], m["sender"], m["body"]) for m in restored["messages"]] == [
        (hello["id"], "visitor", "Hello"),
        (question["id"], "visitor", "Is anyone there?"),
    ]
    assert again["conversation"]["id"] == hello["conversation_id"]
    assert [m["id"] for m in again["messages"]] == [hello["id"], question["id"]]
    assert stranger["conversation"] is None
    assert stranger["messages"] == []
    assert await count(db_session, Visitor) == 1
    assert await count(db_session, Conversation) == 1


async def test_send_is_idempotent_by_client_msg_id(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))

    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        created = await tab.send_raw("Where is my order?", "msg-1")
        retried = await tab.send_raw("Where is my order?", "msg-1")
        changed_retry = await tab.send_raw("something else", "msg-1")
        assert await count(db_session, Message) == 1

        second = await tab.send_raw("Order 42", "msg-2")
        third = await tab.send_raw("Thanks", "msg-3")

    assert created.status_code == 201
    assert retried.status_code == 200
    assert changed_retry.status_code == 200
    assert retried.json() == created.json()
    assert changed_retry.json()["id"] == created.json()["id"]
    assert changed_retry.json()["body"] == "Where is my order?"
    assert created.json()["client_msg_id"] == "msg-1"
    assert second.status_code == 201
    assert third.status_code == 201
    ids = [created.json()["id"], second.json()["id"], third.json()["id"]]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    rows = (await db_session.execute(select(Message).order_by(Message.id))).scalars().all()
    assert [(m.id, m.client_msg_id, m.body) for m in rows] == [
        (ids[0], "msg-1", "Where is my order?"),
        (ids[1], "msg-2", "Order 42"),
        (ids[2], "msg-3", "Thanks"),
    ]


async def test_poll_after_returns_only_newer_messages_in_order(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    branch = await make_branch(db_session)
    operator = await make_user(db_session, [branch])
    inbox = await make_inbox(db_session, branch=branch)

    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        empty = await tab.poll(0)
        one = await tab.send("one")
        two = await tab.send("two")
        conversation = await conversation_of(db_session, one["conversation_id"])
        conversations = ConversationService(session=db_session)
        reply, _ = await conversations.reply(conversation, operator, "three (operator)")
        note = await conversations.add_note(conversation, operator, "internal: VIP customer")
        await db_session.commit()  # the staff side's unit of work ends here
        four = await tab.send("four")

        everything = await tab.poll(0)
        after_two = await tab.poll(two["id"])
        after_reply = await tab.poll(reply.id)
        after_last = await tab.poll(four["id"])

    assert empty == {"messages": [], "conversation": None}
    assert [(m["id"], m["sender"]) for m in everything["messages"]] == [
        (one["id"], "visitor"),
        (two["id"], "visitor"),
        (reply.id, "operator"),
        (four["id"], "visitor"),
    ]
    assert [m["id"] for m in after_two["messages"]] == [reply.id, four["id"]]
    assert after_two["messages"][0]["author"] == {"name": operator.name}
    assert [m["id"] for m in after_reply["messages"]] == [four["id"]]
    assert after_last["messages"] == []
    assert after_last["conversation"]["id"] == one["conversation_id"]
    assert note.id not in {m["id"] for m in everything["messages"]}


# --- routing of the first message --------------------------------------------------------


async def test_first_message_is_routed_by_rules_then_the_inbox_fallback(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    russian = await make_branch(db_session, "Russian desk")
    english = await make_branch(db_session, "English desk")
    fallback = await make_branch(db_session, "Front desk")
    inbox = await make_inbox(db_session, name="Global", fallback=fallback)
    await add_rule(db_session, inbox, russian, {"page_urls": ["*/ru/*"]}, position=0)
    await add_rule(db_session, inbox, english, {"languages": ["en"]}, position=1)

    async def first_message(page_url: str, language: str) -> tuple[httpx.Response, Any]:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        return await tab.send_raw(
            "hi", page_url=page_url, headers={"Accept-Language": language}
        ), tab

    async with widget_client() as client:
        ru_page, ru_tab = await first_message(f"{ORIGIN}/ru/catalog", "de-DE")
        en_visitor, _ = await first_message(f"{ORIGIN}/de/catalog", "en-US,en;q=0.9")
        both, _ = await first_message(f"{ORIGIN}/ru/item", "en-GB")
        nobody, _ = await first_message(f"{ORIGIN}/de/catalog", "de-DE")
        # A later message from another page does not move the conversation.
        moved = await ru_tab.send_raw("again", page_url=f"{ORIGIN}/en/", headers={})

    for response in (ru_page, en_visitor, both, nobody):
        assert response.status_code == 201, response.text
    assert moved.status_code == 201
    branch_of = {
        name: (await conversation_of(db_session, r.json()["conversation_id"])).branch_id
        for name, r in {
            "ru_page": ru_page,
            "en_visitor": en_visitor,
            "both": both,
            "nobody": nobody,
            "moved": moved,
        }.items()
    }
    assert branch_of == {
        "ru_page": russian.id,
        "en_visitor": english.id,
        "both": russian.id,  # first matching rule by position wins
        "nobody": fallback.id,
        "moved": russian.id,
    }


async def test_language_rule_matches_the_visitors_browser_language(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    """A rule may name any primary language subtag (the admin form accepts "de"); the
    visitor's language is the first one their browser prefers."""
    german = await make_branch(db_session, "German desk")
    fallback = await make_branch(db_session, "Front desk")
    inbox = await make_inbox(db_session, name="Global", fallback=fallback)
    await add_rule(db_session, inbox, german, {"languages": ["de"]}, position=0)

    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        sent = await tab.send_raw(
            "Hallo", page_url=f"{ORIGIN}/", headers={"Accept-Language": "de-DE,de;q=0.9"}
        )

    assert sent.status_code == 201, sent.text
    conversation = await conversation_of(db_session, sent.json()["conversation_id"])
    assert conversation.branch_id == german.id


async def test_branch_inbox_routes_to_its_branch_and_a_bare_global_inbox_to_nobody(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    own = await make_branch(db_session, "Own")
    other = await make_branch(db_session, "Other")
    branch_inbox = await make_inbox(db_session, name="Branch inbox", branch=own)
    await add_rule(db_session, branch_inbox, other, {"page_urls": ["*"]}, position=0)
    bare_global = await make_inbox(db_session, name="Bare global")

    async with widget_client() as client:
        tab = WidgetVisitor(client, branch_inbox.widget_token)
        await tab.bootstrap()
        in_branch = await tab.send("hi", page_url=f"{ORIGIN}/ru/")
        orphan_tab = WidgetVisitor(client, bare_global.widget_token)
        await orphan_tab.bootstrap()
        orphan = await orphan_tab.send("hi", page_url=f"{ORIGIN}/ru/")

    assert (await conversation_of(db_session, in_branch["conversation_id"])).branch_id == own.id
    assert (await conversation_of(db_session, orphan["conversation_id"])).branch_id is None


# --- visitor details and GeoIP ------------------------------------------------------------


async def test_visitor_page_url_user_agent_and_language_are_recorded(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        headers = {"User-Agent": agent, "Accept-Language": "ru-RU,ru;q=0.9"}
        first = await tab.send_raw("hi", page_url=f"{ORIGIN}/ru/item?id=5", headers=headers)
        visitor = await visitor_of(db_session, first.json()["conversation_id"])
        assert (visitor.page_url, visitor.user_agent, visitor.locale) == (
            f"{ORIGIN}/ru/item?id=5",
            agent,
            "ru",
        )
        await tab.send_raw("next page", page_url=f"{ORIGIN}/ru/cart", headers=headers)

    visitor = await visitor_of(db_session, first.json()["conversation_id"])
    assert visitor.page_url == f"{ORIGIN}/ru/cart"
    assert visitor.inbox_id == inbox.id
    assert (visitor.country_code, visitor.country, visitor.city) == (None, None, None)


# --- availability, privacy ------------------------------------------------------------------


async def test_bootstrap_offline_decision_by_working_hours_and_presence(
    db_session: AsyncSession, widget_client: ClientFactory, redis: Any, redis_prefix: str
) -> None:
    closed_branch = await make_branch(db_session, "Closed")
    open_branch = await make_branch(db_session, "Open")
    elsewhere = await make_branch(db_session, "Elsewhere")
    closed_op = await make_user(db_session, [closed_branch], email="c@example.com")
    open_op = await make_user(db_session, [open_branch], email="o@example.com")
    other_op = await make_user(db_session, [elsewhere], email="e@example.com")
    closed = await make_inbox(
        db_session,
        name="Closed",
        branch=closed_branch,
        settings={
            "working_hours": {"timezone": "Europe/Moscow", "week": {}},
            "offline": {"message": "We are closed. Leave a message."},
        },
    )
    open_inbox = await make_inbox(
        db_session,
        name="Open",
        branch=open_branch,
        settings={
            "working_hours": {"timezone": "UTC", "week": ALL_WEEK},
            "offline": {"message": "Nobody is here right now."},
        },
    )
    presence = RedisPresence(redis, prefix=f"{redis_prefix}:presence")
    await presence.touch(closed_op.id, [closed_branch.id])

    async with widget_client() as client:

        async def availability(inbox: Inbox, **body: Any) -> tuple[bool, str | None]:
            data = await WidgetVisitor(client, inbox.widget_token).bootstrap(**body)
            return data["online"], data["offline_message"]

        outside_hours = await availability(closed)
        nobody = await availability(open_inbox)
        await presence.touch(other_op.id, [elsewhere.id])
        other_branch_only = await availability(open_inbox)
        await presence.touch(open_op.id, [open_branch.id])
        someone = await availability(open_inbox)
        await presence.leave(open_op.id, [open_branch.id])
        left_again = await availability(open_inbox)

    assert outside_hours == (False, "We are closed. Leave a message.")
    assert nobody == (False, "Nobody is here right now.")
    assert other_branch_only == (False, "Nobody is here right now.")
    assert someone == (True, None)
    assert left_again == (False, "Nobody is here right now.")


async def test_bootstrap_availability_follows_the_routed_branch_of_a_global_inbox(
    db_session: AsyncSession, widget_client: ClientFactory, redis: Any, redis_prefix: str
) -> None:
    russian = await make_branch(db_session, "Russian desk")
    fallback = await make_branch(db_session, "Front desk")
    operator = await make_user(db_session, [russian])
    inbox = await make_inbox(db_session, name="Global", fallback=fallback)
    await add_rule(db_session, inbox, russian, {"page_urls": ["*/ru/*"]}, position=0)
    await RedisPresence(redis, prefix=f"{redis_prefix}:presence").touch(operator.id, [russian.id])

    async with widget_client() as client:
        ru = await WidgetVisitor(client, inbox.widget_token).bootstrap(page_url=f"{ORIGIN}/ru/")
        de = await WidgetVisitor(client, inbox.widget_token).bootstrap(page_url=f"{ORIGIN}/de/")

    assert ru["online"] is True
    assert de["online"] is False


async def test_privacy_defaults_and_field_by_field_inbox_override(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    branch = await make_branch(db_session)
    plain = await make_inbox(db_session, name="Plain", branch=branch)
    own_url = await make_inbox(
        db_session,
        name="Own URL",
        branch=branch,
        settings={"privacy": {"url": "https://shop.example/privacy"}},
    )
    own_text = await make_inbox(
        db_session,
        name="Own text",
        branch=branch,
        settings={"privacy": {"text": "Our own words."}},
    )

    async with widget_client(
        MESSENGER_PRIVACY_URL="https://operator.example/privacy",
        MESSENGER_PRIVACY_TEXT="We store your messages for 90 days.",
    ) as client:
        results = {
            inbox.name: (await WidgetVisitor(client, inbox.widget_token).bootstrap())["privacy"]
            for inbox in (plain, own_url, own_text)
        }

    assert results == {
        "Plain": {
            "url": "https://operator.example/privacy",
            "text": "We store your messages for 90 days.",
        },
        "Own URL": {
            "url": "https://shop.example/privacy",
            "text": "We store your messages for 90 days.",
        },
        "Own text": {"url": "https://operator.example/privacy", "text": "Our own words."},
    }


# --- offline form -------------------------------------------------------------------------


async def test_offline_form_creates_a_conversation_with_the_contact(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    branch = await make_branch(db_session)
    inbox = await make_inbox(db_session, branch=branch)
    form = {
        "name": "  Anna Petrova ",
        "email": "Anna.Petrova@Example.COM",
        "phone": "+49 30 123456",
        "body": "Please call me back about order 42.",
        "client_msg_id": "offline-1",
        "page_url": f"{ORIGIN}/contacts",
    }

    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        created = await tab.post("/offline", form)
        retried = await tab.post("/offline", form)
        restored = await tab.bootstrap()

    assert created.status_code == 201, created.text
    assert retried.status_code == 200, retried.text
    message = created.json()
    assert retried.json()["id"] == message["id"]
    assert message["sender"] == "visitor"
    assert message["body"] == "Please call me back about order 42."
    assert message["client_msg_id"] == "offline-1"
    # the visitor's message once (the retry wrote nothing), plus the "offline form" event line
    assert await count(db_session, Message) == 2
    assert await count(db_session, Conversation) == 1
    conversation = await conversation_of(db_session, message["conversation_id"])
    assert conversation.channel == ConversationChannel.OFFLINE_FORM
    assert conversation.branch_id == branch.id
    visitor = await fresh(db_session, Visitor, conversation.visitor_id)
    assert (visitor.name, visitor.email, visitor.phone, visitor.page_url) == (
        "Anna Petrova",
        "anna.petrova@example.com",
        "+49 30 123456",
        f"{ORIGIN}/contacts",
    )
    assert restored["conversation"]["id"] == message["conversation_id"]
    assert [m["id"] for m in restored["messages"]] == [message["id"]]


# --- receipts and typing -----------------------------------------------------------------


async def test_delivered_and_read_receipts_are_stored_and_reach_staff(
    db_session: AsyncSession, widget_client: ClientFactory, desk: OperatorDesk
) -> None:
    branch = await make_branch(db_session)
    operator = await make_user(db_session, [branch])
    inbox = await make_inbox(db_session, branch=branch)
    watch = await desk.watch_branch(branch.id)

    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        hello = await tab.send("hello")
        conversation_id = hello["conversation_id"]
        reply = await desk.reply(conversation_id, operator.id, "Hi! How can I help?")
        assert reply.delivered_at is None

        polled = await tab.poll(hello["id"])
        assert [m["id"] for m in polled["messages"]] == [reply.id]
        delivered = await watch.wait_for(
            lambda e: e.event == "receipt" and e.data["kind"] == "delivered"
        )
        stored = await fresh(db_session, Message, reply.id)
        assert stored.delivered_at is not None
        assert stored.read_at is None

        read = await tab.post("/read", {"up_to_id": reply.id})
        read_event = await watch.wait_for(
            lambda e: e.event == "receipt" and e.data["kind"] == "read"
        )
        backwards = await tab.post("/read", {"up_to_id": hello["id"]})

        # A reply seen first through a restored bootstrap is delivered too.
        second = await desk.reply(conversation_id, operator.id, "Are you still there?")
        await tab.bootstrap()
        second_delivered = await fresh(db_session, Message, second.id)

    assert delivered.data["up_to_id"] == reply.id
    assert delivered.data["conversation_id"] == conversation_id
    assert delivered.conversation_id == conversation_id
    assert read.status_code == 200, read.text
    assert read.json() == {"up_to_id": reply.id}
    assert read_event.data["up_to_id"] == reply.id
    assert read_event.data["conversation_id"] == conversation_id
    assert backwards.json() == {"up_to_id": reply.id}  # the marker never goes back
    stored = await fresh(db_session, Message, reply.id)
    assert stored.read_at is not None
    own = await fresh(db_session, Message, hello["id"])
    assert own.read_at is None  # the visitor's read marks operator messages only
    conversation = await conversation_of(db_session, conversation_id)
    assert conversation.visitor_last_read_id == reply.id
    assert second_delivered.delivered_at is not None


async def test_visitor_typing_reaches_staff_only_after_the_first_message(
    db_session: AsyncSession, widget_client: ClientFactory, desk: OperatorDesk
) -> None:
    branch = await make_branch(db_session)
    inbox = await make_inbox(db_session, branch=branch)
    watch = await desk.watch_branch(branch.id)

    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        early = await tab.post("/typing", {"typing": True})
        hello = await tab.send("hello")
        # The app publishes in request order: a typing event of the early call would have
        # reached the channel before the first message's event.
        first_message = await watch.wait_for(
            lambda e: e.event == "message" and e.data["id"] == hello["id"]
        )
        before_first = [e for e in watch.before(first_message) if e.event == "typing"]
        started = await tab.post("/typing", {"typing": True})
        typing_on = await watch.wait_for(lambda e: e.event == "typing" and e.data["typing"])
        stopped = await tab.post("/typing", {"typing": False})
        typing_off = await watch.wait_for(
            lambda e: e.event == "typing" and e.data["typing"] is False
        )
        invalid = await tab.post("/typing", {"typing": "yes"})

    assert early.status_code == 204
    assert before_first == []
    assert started.status_code == 204
    assert stopped.status_code == 204
    assert typing_on.data == {"typing": True, "sender": "visitor"}
    assert typing_on.conversation_id == hello["conversation_id"]
    assert typing_on.audience == "staff"
    assert typing_off.data["sender"] == "visitor"
    assert invalid.status_code in {400, 422}


# --- OpenAPI -----------------------------------------------------------------------------


WIDGET_OPERATIONS = {
    ("/api/widget/bootstrap", "post"): ({"widget_token", "session_token"}, {"session_token"}),
    ("/api/widget/messages", "post"): ({"body", "client_msg_id"}, {"id", "conversation_id"}),
    ("/api/widget/messages", "get"): (None, {"messages", "conversation"}),
    ("/api/widget/stream/ticket", "post"): (None, {"ticket", "expires_in"}),
    ("/api/widget/typing", "post"): ({"typing"}, None),
    ("/api/widget/read", "post"): ({"up_to_id"}, {"up_to_id"}),
    ("/api/widget/attachments", "post"): ({"file"}, {"id", "filename", "content_type"}),
    ("/api/widget/offline", "post"): ({"name", "email", "body", "client_msg_id"}, {"id"}),
}


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _properties(content: dict[str, Any], document: dict[str, Any]) -> set[str]:
    assert content, "no content documented"
    (media,) = content.values()
    return set(_resolve(media["schema"], document).get("properties", {}))


async def test_openapi_documents_every_widget_operation_with_bodies(
    widget_client: ClientFactory,
) -> None:
    async with widget_client() as client:
        response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]

    for (path, method), (request_fields, response_fields) in WIDGET_OPERATIONS.items():
        assert path in paths, f"{path} is not documented"
        operation = paths[path].get(method)
        assert operation is not None, f"{method.upper()} {path} is not documented"
        if request_fields is not None:
            body = operation.get("requestBody")
            assert body, f"{method.upper()} {path} documents no request body"
            assert request_fields <= _properties(body["content"], document), path
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert success, f"{method.upper()} {path} documents no success response"
        if response_fields is not None:
            documented = operation["responses"][success[0]].get("content", {})
            assert response_fields <= _properties(documented, document), path

    stream = paths["/api/widget/stream"].get("get")
    assert stream is not None
    names = {p["name"] for p in stream.get("parameters", [])}
    assert {"ticket", "last_event_id"} <= names
    assert "200" in stream["responses"]


async def test_openapi_documents_the_stream_as_server_sent_events(
    widget_client: ClientFactory,
) -> None:
    async with widget_client() as client:
        document = (await client.get("/schema/openapi.json")).json()
    documented = document["paths"]["/api/widget/stream"]["get"]["responses"]["200"]
    assert list(documented.get("content", {})) == ["text/event-stream"]


async def test_openapi_error_responses_describe_the_real_error_body(
    widget_client: ClientFactory,
) -> None:
    """Every error of the Widget API is ``{"error", "detail", ...}``; the schema says so."""
    async with widget_client() as client:
        document = (await client.get("/schema/openapi.json")).json()
        unknown = await client.post(
            "/api/widget/bootstrap", json={"widget_token": "wt_nope"}, headers={"Origin": ORIGIN}
        )
    assert unknown.status_code == 404
    assert {"error", "detail"} <= set(unknown.json())

    wrong: list[str] = []
    for path, item in document["paths"].items():
        if not path.startswith("/api/widget/"):
            continue
        for method, operation in item.items():
            for code, response in operation.get("responses", {}).items():
                if not code.startswith("4"):
                    continue
                content = response.get("content", {})
                fields = _properties(content, document) if content else set()
                if not {"error", "detail"} <= fields:
                    wrong.append(f"{method.upper()} {path} {code}: {sorted(fields)}")
    assert wrong == []
