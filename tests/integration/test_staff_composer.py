"""Issue 13: the composer keeps one client message id per draft, so a send retried after a
lost answer is stored once — sequentially, concurrently, and without side effects (a retry
never reopens a conversation). Real PostgreSQL and Redis, the app in-process."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Conversation, ConversationStatus, Message, MessageKind
from tests.integration.test_dashboard import (  # the unified messenger's world and clients
    World,
    app_env,  # noqa: F401 - fixture
    build_world,
    messages_of,
    visitor_a,
)
from tests.support.app import app_client
from tests.support.dashboard import hx_post, message_ids, signed_in

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def client(app_env: dict[str, str]) -> Any:  # noqa: F811 - the fixture above
    async with app_client(app_env, relaxed=True) as test_client:
        yield test_client


@pytest.fixture
async def world(db_session: AsyncSession) -> World:
    return await build_world(db_session)


async def _conversation(client: Any, world: World) -> str:
    conversation_id = (await visitor_a(client, world).send("Where is my order?"))["conversation_id"]
    await signed_in(client, world.operator.email)
    return str(conversation_id)


async def _operator_messages(db: AsyncSession, conversation_id: str) -> list[Message]:
    return [m for m in await messages_of(db, conversation_id) if m.author_id is not None]


async def test_the_same_draft_sent_twice_is_stored_once_and_answered_with_it(
    client, world, db_session
):
    conversation_id = await _conversation(client, world)
    url = f"/conversations/{conversation_id}/messages"
    draft = {"body": "It ships today", "kind": "message", "client_msg_id": "op-draft-1"}

    first = await hx_post(client, url, draft)
    retry = await hx_post(client, url, {**draft, "body": "It ships today (clicked again)"})

    assert first.status_code == retry.status_code == 200
    assert message_ids(first.text) == message_ids(retry.text)  # the stored message again
    assert "It ships today" in retry.text
    assert "clicked again" not in retry.text
    stored = await _operator_messages(db_session, conversation_id)
    assert [(m.body, m.client_msg_id) for m in stored] == [("It ships today", "op-draft-1")]

    # The next draft has its own id: a second message.
    nxt = await hx_post(client, url, {**draft, "body": "Anything else?", "client_msg_id": "op-2"})
    assert nxt.status_code == 200
    assert len(await _operator_messages(db_session, conversation_id)) == 2


async def test_two_concurrent_sends_of_one_draft_store_one_message(client, world, db_session):
    conversation_id = await _conversation(client, world)
    url = f"/conversations/{conversation_id}/messages"
    draft = {"body": "On its way", "kind": "message", "client_msg_id": "op-race"}

    answers = await asyncio.gather(*(hx_post(client, url, draft) for _ in range(4)))

    assert [a.status_code for a in answers] == [200] * 4
    assert len({tuple(message_ids(a.text)) for a in answers}) == 1
    assert len(await _operator_messages(db_session, conversation_id)) == 1


async def test_a_retried_reply_changes_nothing_else(client, world, db_session):
    """The first send reopened the resolved conversation; the operator resolved it again; a
    late retry of that send neither stores a second message nor reopens it."""
    conversation_id = await _conversation(client, world)
    base = f"/conversations/{conversation_id}"
    assert (await hx_post(client, f"{base}/status", {"status": "resolved"})).status_code == 200
    draft = {"body": "Reopening with an answer", "kind": "message", "client_msg_id": "op-x"}
    assert (await hx_post(client, f"{base}/messages", draft)).status_code == 200
    assert (await hx_post(client, f"{base}/status", {"status": "resolved"})).status_code == 200

    assert (await hx_post(client, f"{base}/messages", draft)).status_code == 200

    await db_session.commit()
    status = await db_session.scalar(
        select(Conversation.status).where(Conversation.id == UUID(conversation_id))
    )
    assert status == ConversationStatus.RESOLVED
    replies = [
        m
        for m in await _operator_messages(db_session, conversation_id)
        if m.kind == MessageKind.MESSAGE
    ]
    assert [m.body for m in replies] == ["Reopening with an answer"]


async def test_a_note_retry_is_stored_once_and_an_empty_id_is_no_id(client, world, db_session):
    conversation_id = await _conversation(client, world)
    url = f"/conversations/{conversation_id}/messages"
    note = {"body": "VIP customer", "kind": "note", "client_msg_id": "op-note"}
    assert (await hx_post(client, url, note)).status_code == 200
    assert (await hx_post(client, url, note)).status_code == 200
    # A form without an id (no script ran) is never taken for a retry of another send.
    for body in ("first without id", "second without id"):
        assert (
            await hx_post(client, url, {"body": body, "kind": "message", "client_msg_id": ""})
        ).status_code == 200

    stored = await _operator_messages(db_session, conversation_id)
    assert [(m.body, m.kind, m.client_msg_id) for m in stored] == [
        ("VIP customer", MessageKind.NOTE, "op-note"),
        ("first without id", MessageKind.MESSAGE, None),
        ("second without id", MessageKind.MESSAGE, None),
    ]


async def test_the_page_opens_its_stream_after_the_newest_message_it_shows(
    client, world, db_session
):
    conversation_id = await _conversation(client, world)
    page = await client.get(f"/conversations/{conversation_id}")
    assert page.status_code == 200
    newest = max(message_ids(page.text))
    match = re.search(r'sse-connect="([^"]+)"', page.text)
    assert match is not None
    assert match.group(1) == (
        f"/dashboard/stream?conversation={conversation_id}&amp;last_event_id={newest}"
    )
    # The composer's id field is empty: the page's script gives each draft its id.
    assert re.search(r'name="client_msg_id" value=""', page.text)
