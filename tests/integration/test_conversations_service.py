"""The rules of a conversation's life, tested on the service against real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.conversations.service import (
    MAX_BODY_LENGTH,
    ConversationService,
    can_see,
    scope_query,
)
from messenger.conversations.timeline import staff_messages, visitor_messages
from messenger.db import alchemy_config
from messenger.db.events import pending, take_committed
from messenger.db.models import (
    Branch,
    Conversation,
    ConversationPriority,
    ConversationStatus,
    Inbox,
    Message,
    MessageKind,
    MessageSender,
    User,
    UserRole,
)
from messenger.errors import InvalidInputError, NotFoundError
from tests.support.factories import make_branch, make_conversation, make_inbox, make_user


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real Argon2id, with the smallest cost: these tests make many users and log none in."""
    from argon2 import PasswordHasher

    from messenger.accounts import passwords

    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@dataclass
class World:
    moscow: Branch
    kazan: Branch
    olga: User  # operator of Moscow
    ivan: User  # operator of Kazan
    admin: User  # admin, member of no branch
    inbox: Inbox
    conversation: Conversation  # in Moscow
    service: ConversationService


@pytest.fixture
async def world(db_session: AsyncSession) -> World:
    moscow = await make_branch(db_session, "Moscow")
    kazan = await make_branch(db_session, "Kazan")
    olga = await make_user(db_session, [moscow], email="olga@example.com", name="Olga")
    ivan = await make_user(db_session, [kazan], email="ivan@example.com", name="Ivan")
    admin = await make_user(
        db_session, [], email="admin@example.com", name="Admin", role=UserRole.ADMIN
    )
    inbox = await make_inbox(db_session, branch=moscow)
    conversation = await make_conversation(db_session, inbox, moscow.id, name="Visitor")
    return World(
        moscow=moscow,
        kazan=kazan,
        olga=olga,
        ivan=ivan,
        admin=admin,
        inbox=inbox,
        conversation=conversation,
        service=UnitOfWork(ConversationService(session=db_session)),  # type: ignore[arg-type]
    )


class UnitOfWork:
    """The service as a request uses it: each call is one unit of work, committed when it
    returns and rolled back when it raises (services never commit themselves)."""

    def __init__(self, service: ConversationService) -> None:
        self._service = service
        self.repository = service.repository

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._service, name)
        session = self._service.repository.session

        async def call(*args: Any, **kwargs: Any) -> Any:
            # A savepoint stands in for the request's transaction: a refusal rolls back
            # whatever the call wrote (and only that: the test's objects stay loaded).
            async with session.begin_nested():
                result = await method(*args, **kwargs)
            await session.commit()
            return result

        return call


async def fetch(settings: Settings, sql: str, *args: object) -> list[asyncpg.Record]:
    """Read what is *committed*, through a connection of its own."""
    conn = await asyncpg.connect(settings.effective_database_url.replace("+asyncpg", ""))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def committed_conversation(settings: Settings, conversation_id: uuid.UUID) -> asyncpg.Record:
    rows = await fetch(settings, "SELECT * FROM conversations WHERE id = $1", conversation_id)
    assert len(rows) == 1
    return rows[0]


async def committed_messages(
    settings: Settings, conversation_id: uuid.UUID
) -> list[asyncpg.Record]:
    return await fetch(
        settings, "SELECT * FROM messages WHERE conversation_id = $1 ORDER BY id", conversation_id
    )


async def visitor_says(
    service: ConversationService, conversation: Conversation, body: str, client_msg_id=None
) -> Message:
    message, created = await service.append(
        conversation, sender=MessageSender.VISITOR, body=body, client_msg_id=client_msg_id
    )
    assert created
    return message


# --- status ---------------------------------------------------------------------------------


async def test_status_change_is_committed_and_writes_an_event(world: World, settings: Settings):
    event = await world.service.change_status(world.conversation, "pending", world.olga)

    assert world.conversation.status == ConversationStatus.PENDING
    row = await committed_conversation(settings, world.conversation.id)
    assert row["status"] == "pending"
    messages = await committed_messages(settings, world.conversation.id)
    assert [(m["sender"], m["kind"], m["body"], m["author_id"]) for m in messages] == [
        ("system", "event", "status:pending", world.olga.id)
    ]
    # The change returns the event message it wrote (what the dashboard shows at once).
    assert event is not None
    assert (event.id, event.body) == (messages[0]["id"], "status:pending")
    assert await world.service.change_status(world.conversation, "pending", world.olga) is None


async def test_every_status_change_writes_one_event_in_order(world: World, settings: Settings):
    sequence = ["pending", "resolved", "closed", "open"]  # closed can be reopened by staff
    for status in sequence:
        await world.service.change_status(
            world.conversation, ConversationStatus(status), world.olga
        )

    messages = await committed_messages(settings, world.conversation.id)
    assert [m["body"] for m in messages] == [f"status:{s}" for s in sequence]
    assert all(m["kind"] == "event" for m in messages)
    ids = [m["id"] for m in messages]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert (await committed_conversation(settings, world.conversation.id))["status"] == "open"


async def test_same_status_is_a_no_op(world: World, settings: Settings):
    await world.service.change_status(world.conversation, "open", world.olga)
    assert await committed_messages(settings, world.conversation.id) == []

    await world.service.change_status(world.conversation, "resolved", world.olga)
    await world.service.change_status(world.conversation, ConversationStatus.RESOLVED, world.olga)
    messages = await committed_messages(settings, world.conversation.id)
    assert [m["body"] for m in messages] == ["status:resolved"]


@pytest.mark.parametrize("status", ["archived", "OPEN", "", "deleted", "open "])
async def test_invalid_status_is_refused(world: World, settings: Settings, status: str):
    with pytest.raises(InvalidInputError):
        await world.service.change_status(world.conversation, status, world.olga)

    assert world.conversation.status == ConversationStatus.OPEN
    assert (await committed_conversation(settings, world.conversation.id))["status"] == "open"
    assert await committed_messages(settings, world.conversation.id) == []


# --- priority -------------------------------------------------------------------------------


async def test_priority_is_set_and_committed(world: World, settings: Settings):
    assert world.conversation.priority == ConversationPriority.NORMAL
    await world.service.set_priority(world.conversation, "urgent", world.olga)
    assert (await committed_conversation(settings, world.conversation.id))["priority"] == "urgent"

    await world.service.set_priority(world.conversation, ConversationPriority.LOW, world.admin)
    assert (await committed_conversation(settings, world.conversation.id))["priority"] == "low"


@pytest.mark.parametrize("priority", ["critical", "Urgent", "", "0"])
async def test_invalid_priority_is_refused(world: World, settings: Settings, priority: str):
    with pytest.raises(InvalidInputError):
        await world.service.set_priority(world.conversation, priority, world.olga)
    assert (await committed_conversation(settings, world.conversation.id))["priority"] == "normal"


# --- assignment -----------------------------------------------------------------------------


async def test_assign_to_an_active_operator_of_the_branch(world: World, settings: Settings):
    other = await make_user(
        world.service.repository.session, [world.moscow], email="petr@example.com", name="Petr"
    )
    event = await world.service.assign(world.conversation, other.id, world.olga)
    conversation = world.conversation

    assert event is not None
    assert event.body == "assigned"
    assert conversation.assignee_id == other.id
    assert conversation.assignee is not None
    assert conversation.assignee.id == other.id
    assert (await committed_conversation(settings, world.conversation.id))[
        "assignee_id"
    ] == other.id
    messages = await committed_messages(settings, world.conversation.id)
    assert [(m["kind"], m["body"]) for m in messages] == [("event", "assigned")]


async def test_assigning_the_same_operator_twice_writes_one_event(world: World, settings: Settings):
    await world.service.assign(world.conversation, world.olga.id, world.olga)
    await world.service.assign(world.conversation, world.olga.id, world.olga)
    messages = await committed_messages(settings, world.conversation.id)
    assert [m["body"] for m in messages] == ["assigned"]


async def test_assign_refuses_an_inactive_operator_of_the_branch(world: World, settings: Settings):
    sleepy = await make_user(
        world.service.repository.session,
        [world.moscow],
        email="sleepy@example.com",
        name="Sleepy",
        active=False,
    )
    with pytest.raises(InvalidInputError):
        await world.service.assign(world.conversation, sleepy.id, world.olga)
    assert (await committed_conversation(settings, world.conversation.id))["assignee_id"] is None
    assert await committed_messages(settings, world.conversation.id) == []


async def test_assign_refuses_an_operator_of_another_branch(world: World, settings: Settings):
    with pytest.raises(InvalidInputError):
        await world.service.assign(world.conversation, world.ivan.id, world.olga)
    with pytest.raises(InvalidInputError):  # not even an admin can do it
        await world.service.assign(world.conversation, world.ivan.id, world.admin)
    assert (await committed_conversation(settings, world.conversation.id))["assignee_id"] is None
    assert await committed_messages(settings, world.conversation.id) == []


async def test_assign_refuses_an_admin_who_is_not_a_member_of_the_branch(
    world: World, settings: Settings
):
    with pytest.raises(InvalidInputError):
        await world.service.assign(world.conversation, world.admin.id, world.olga)
    with pytest.raises(InvalidInputError):
        await world.service.assign_to_me(world.conversation, world.admin)
    assert (await committed_conversation(settings, world.conversation.id))["assignee_id"] is None


async def test_assign_accepts_an_admin_who_is_a_member_of_the_branch(
    world: World, settings: Settings
):
    boss = await make_user(
        world.service.repository.session,
        [world.moscow],
        email="boss@example.com",
        name="Boss",
        role=UserRole.ADMIN,
    )
    await world.service.assign(world.conversation, boss.id, world.olga)
    assert (await committed_conversation(settings, world.conversation.id))["assignee_id"] == boss.id


async def test_assign_refuses_an_unknown_user(world: World, settings: Settings):
    with pytest.raises(InvalidInputError):
        await world.service.assign(world.conversation, 987654, world.olga)
    assert (await committed_conversation(settings, world.conversation.id))["assignee_id"] is None


async def test_assign_refuses_when_the_conversation_has_no_branch(
    world: World, db_session: AsyncSession
):
    orphan = await make_conversation(db_session, world.inbox, None)
    boss = await make_user(
        db_session, [world.moscow], email="boss@example.com", name="Boss", role=UserRole.ADMIN
    )
    with pytest.raises(InvalidInputError):
        await world.service.assign(orphan, boss.id, world.admin)


async def test_assign_to_me_and_unassign(world: World, settings: Settings):
    await world.service.assign_to_me(world.conversation, world.olga)
    assert (await committed_conversation(settings, world.conversation.id))[
        "assignee_id"
    ] == world.olga.id

    await world.service.unassign(world.conversation, world.olga)
    assert world.conversation.assignee_id is None
    assert (await committed_conversation(settings, world.conversation.id))["assignee_id"] is None


async def test_assign_to_me_refused_for_an_operator_of_another_branch(
    world: World, settings: Settings
):
    with pytest.raises(NotFoundError):
        await world.service.assign_to_me(world.conversation, world.ivan)
    assert (await committed_conversation(settings, world.conversation.id))["assignee_id"] is None


# --- branch scope: an outsider learns nothing and changes nothing ---------------------------

ACTIONS = {
    "get_for_staff": lambda s, c, u: s.get_for_staff(c.id, u),
    "change_status": lambda s, c, u: s.change_status(c, "resolved", u),
    "set_priority": lambda s, c, u: s.set_priority(c, "urgent", u),
    "assign": lambda s, c, u: s.assign(c, u.id, u),
    "assign_to_me": lambda s, c, u: s.assign_to_me(c, u),
    "unassign": lambda s, c, u: s.unassign(c, u),
    "reply": lambda s, c, u: s.reply(c, u, "hello from outside"),
    "add_note": lambda s, c, u: s.add_note(c, u, "a note from outside"),
}


@pytest.mark.parametrize("outsider", ["other_branch", "inactive_member", "inactive_admin"])
async def test_actor_out_of_scope_gets_not_found_on_every_action(
    world: World, db_session: AsyncSession, settings: Settings, outsider: str
):
    await world.service.assign(world.conversation, world.olga.id, world.olga)
    before = await committed_messages(settings, world.conversation.id)
    if outsider == "other_branch":
        actor = world.ivan
    else:
        actor = await make_user(
            db_session,
            [world.moscow],
            email="gone@example.com",
            name="Gone",
            role=UserRole.ADMIN if outsider == "inactive_admin" else UserRole.OPERATOR,
            active=False,
        )

    for action, call in sorted(ACTIONS.items()):
        with pytest.raises(NotFoundError):
            await call(world.service, world.conversation, actor)

        row = await committed_conversation(settings, world.conversation.id)
        state = (row["status"], row["priority"], row["assignee_id"])
        assert state == ("open", "normal", world.olga.id), action
        assert await committed_messages(settings, world.conversation.id) == before, action


async def test_admin_outside_the_branch_may_act_on_it(world: World, settings: Settings):
    """Admins see every branch: status, priority, replies, notes and assigning others work."""
    s, c, admin = world.service, world.conversation, world.admin
    assert (await s.get_for_staff(c.id, admin)).id == c.id
    await s.change_status(c, "pending", admin)
    await s.set_priority(c, "high", admin)
    await s.assign(c, world.olga.id, admin)
    await s.reply(c, admin, "Hello from the admin")
    await s.add_note(c, admin, "admin note")
    row = await committed_conversation(settings, c.id)
    assert (row["status"], row["priority"], row["assignee_id"]) == ("open", "high", world.olga.id)
    rows = await committed_messages(settings, c.id)
    assert [(r["kind"], r["body"]) for r in rows] == [
        ("event", "status:pending"),
        ("event", "assigned"),
        ("message", "Hello from the admin"),
        ("note", "admin note"),
    ]
    await s.unassign(c, admin)
    assert (await committed_conversation(settings, c.id))["assignee_id"] is None


async def test_get_for_staff_answers_the_same_for_unknown_and_out_of_scope(world: World):
    found = await world.service.get_for_staff(world.conversation.id, world.olga)
    assert found.id == world.conversation.id
    assert (await world.service.get_for_staff(world.conversation.id, world.admin)).id == found.id

    with pytest.raises(NotFoundError) as unknown:
        await world.service.get_for_staff(uuid.uuid4(), world.olga)
    with pytest.raises(NotFoundError) as hidden:
        await world.service.get_for_staff(world.conversation.id, world.ivan)
    assert unknown.value.detail == hidden.value.detail


# --- replies and notes ----------------------------------------------------------------------


async def test_reply_is_an_operator_message_with_stripped_body(world: World, settings: Settings):
    message, created = await world.service.reply(world.conversation, world.olga, "  Hello!  \n")
    assert created
    assert (message.sender, message.kind, message.body, message.author_id) == (
        MessageSender.OPERATOR,
        MessageKind.MESSAGE,
        "Hello!",
        world.olga.id,
    )
    rows = await committed_messages(settings, world.conversation.id)
    assert [(r["id"], r["body"]) for r in rows] == [(message.id, "Hello!")]


@pytest.mark.parametrize("body", ["", "   ", "\n\t", "x" * (MAX_BODY_LENGTH + 1)])
async def test_reply_and_note_refuse_empty_or_too_long_bodies(
    world: World, settings: Settings, body: str
):
    with pytest.raises(InvalidInputError):
        await world.service.reply(world.conversation, world.olga, body)
    with pytest.raises(InvalidInputError):
        await world.service.add_note(world.conversation, world.olga, body)
    assert await committed_messages(settings, world.conversation.id) == []


async def test_reply_of_max_length_is_accepted(world: World):
    message, _ = await world.service.reply(world.conversation, world.olga, "y" * MAX_BODY_LENGTH)
    assert len(message.body) == MAX_BODY_LENGTH


@pytest.mark.parametrize(
    ("before", "after"),
    [("pending", "open"), ("resolved", "open"), ("open", "open"), ("closed", "closed")],
)
async def test_reply_reopens_pending_and_resolved(
    world: World, settings: Settings, before: str, after: str
):
    await world.service.change_status(world.conversation, before, world.olga)
    await world.service.reply(world.conversation, world.olga, "We are back")
    assert (await committed_conversation(settings, world.conversation.id))["status"] == after


async def test_note_is_kind_note_and_staff_only(world: World, db_session: AsyncSession):
    note = await world.service.add_note(world.conversation, world.olga, "VIP, be nice")
    assert note.kind == MessageKind.NOTE
    assert note.is_note
    assert note.sender == MessageSender.OPERATOR
    assert note.author_id == world.olga.id

    assert await visitor_messages(db_session, world.conversation.id) == []
    staff = await staff_messages(db_session, world.conversation.id)
    assert [m.id for m in staff] == [note.id]


async def test_visitor_messages_never_return_notes_on_any_page(
    world: World, db_session: AsyncSession
):
    s, c = world.service, world.conversation
    v1 = await visitor_says(s, c, "hi")
    n1 = await s.add_note(c, world.olga, "note 1")
    r1, _ = await s.reply(c, world.olga, "hello")
    n2 = await s.add_note(c, world.olga, "note 2")
    await s.change_status(c, "pending", world.olga)
    n3 = await s.add_note(c, world.olga, "note 3")
    v2 = await visitor_says(s, c, "still there?")
    n4 = await s.add_note(c, world.olga, "note 4")
    notes = {n1.id, n2.id, n3.id, n4.id}

    everything = await staff_messages(db_session, c.id, limit=200)
    event = next(m for m in everything if m.kind == MessageKind.EVENT)
    visible = [v1.id, r1.id, event.id, v2.id]
    assert [m.id for m in everything] == sorted(visible + list(notes))

    assert [m.id for m in await visitor_messages(db_session, c.id)] == visible
    # Every possible after_id, including the ids of notes themselves.
    for after in [0, *sorted(visible + list(notes))]:
        page = await visitor_messages(db_session, c.id, after_id=after)
        assert [m.id for m in page] == [i for i in visible if i > after]
        assert all(m.kind != MessageKind.NOTE for m in page)

    # Walking pages of one: the visitor sees exactly the visible messages, in order.
    seen: list[int] = []
    after = 0
    while page := await visitor_messages(db_session, c.id, after_id=after, limit=1):
        assert len(page) == 1
        seen.append(page[0].id)
        after = page[0].id
    assert seen == visible


async def test_visitor_messages_stay_in_their_conversation(world: World, db_session: AsyncSession):
    other = await make_conversation(db_session, world.inbox, world.moscow.id, name="Other")
    mine = await visitor_says(world.service, world.conversation, "mine")
    await visitor_says(world.service, other, "theirs")
    await world.service.reply(other, world.olga, "to the other one")
    page = await visitor_messages(db_session, world.conversation.id)
    assert [m.id for m in page] == [mine.id]


async def test_visitor_messages_limit_is_clamped(world: World, db_session: AsyncSession):
    for i in range(3):
        await visitor_says(world.service, world.conversation, f"m{i}")
    assert len(await visitor_messages(db_session, world.conversation.id, limit=0)) == 1
    assert len(await visitor_messages(db_session, world.conversation.id, limit=2)) == 2
    assert len(await visitor_messages(db_session, world.conversation.id, limit=10_000)) == 3


async def test_staff_messages_pages_backwards_and_forwards(world: World, db_session: AsyncSession):
    ids = []
    for i in range(7):
        if i % 3 == 1:
            ids.append((await world.service.add_note(world.conversation, world.olga, f"n{i}")).id)
        else:
            ids.append((await visitor_says(world.service, world.conversation, f"m{i}")).id)

    newest = await staff_messages(db_session, world.conversation.id, limit=3)
    assert [m.id for m in newest] == ids[-3:]
    older = await staff_messages(db_session, world.conversation.id, before_id=newest[0].id, limit=3)
    assert [m.id for m in older] == ids[1:4]
    oldest = await staff_messages(db_session, world.conversation.id, before_id=older[0].id, limit=3)
    assert [m.id for m in oldest] == ids[:1]
    forward = await staff_messages(db_session, world.conversation.id, after_id=ids[2], limit=2)
    assert [m.id for m in forward] == ids[3:5]


# --- idempotent append, ordering ------------------------------------------------------------


async def test_append_with_the_same_client_msg_id_returns_the_stored_message(
    world: World, settings: Settings
):
    first, created = await world.service.append(
        world.conversation, sender=MessageSender.VISITOR, body="hello", client_msg_id="c-1"
    )
    assert created
    again, created_again = await world.service.append(
        world.conversation, sender=MessageSender.VISITOR, body="hello (retry)", client_msg_id="c-1"
    )
    assert created_again is False
    assert again.id == first.id
    assert again.body == "hello"

    rows = await committed_messages(settings, world.conversation.id)
    assert [(r["id"], r["client_msg_id"], r["body"]) for r in rows] == [(first.id, "c-1", "hello")]


async def test_client_msg_id_is_scoped_to_one_conversation(world: World, db_session: AsyncSession):
    other = await make_conversation(db_session, world.inbox, world.moscow.id, name="Other")
    a, created_a = await world.service.append(
        world.conversation, sender=MessageSender.VISITOR, body="a", client_msg_id="same"
    )
    b, created_b = await world.service.append(
        other, sender=MessageSender.VISITOR, body="b", client_msg_id="same"
    )
    assert created_a
    assert created_b
    assert a.id != b.id
    assert b.conversation_id == other.id


async def test_messages_without_client_msg_id_are_never_deduplicated(
    world: World, db_session: AsyncSession
):
    for _ in range(3):
        await visitor_says(world.service, world.conversation, "same text")
    count = await db_session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.conversation_id == world.conversation.id)
    )
    assert count == 3


async def test_reply_and_note_are_idempotent_too(world: World, settings: Settings):
    r1, created1 = await world.service.reply(world.conversation, world.olga, "hi", "r-1")
    r2, created2 = await world.service.reply(world.conversation, world.olga, "hi", "r-1")
    n1 = await world.service.add_note(world.conversation, world.olga, "note", "n-1")
    n2 = await world.service.add_note(world.conversation, world.olga, "note", "n-1")
    assert (created1, created2) == (True, False)
    assert r1.id == r2.id
    assert n1.id == n2.id
    rows = await committed_messages(settings, world.conversation.id)
    assert [r["client_msg_id"] for r in rows] == ["r-1", "n-1"]


async def test_concurrent_retries_store_one_message(
    world: World, settings: Settings, db_session: AsyncSession
):
    """Two processes handling the same send at once: one row, and both answer with it."""
    config = alchemy_config(settings)
    try:

        async def send(body: str) -> tuple[Message, bool]:
            async with config.get_session() as session:
                conversation = await session.get(Conversation, world.conversation.id)
                assert conversation is not None
                result = await ConversationService(session=session).append(
                    conversation, sender=MessageSender.VISITOR, body=body, client_msg_id="race"
                )
                await session.commit()  # each "process" ends its unit of work
                return result

        results = await asyncio.gather(*(send(f"try {i}") for i in range(4)))
    finally:
        await config.get_engine().dispose()

    assert len({message.id for message, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    rows = await committed_messages(settings, world.conversation.id)
    assert len(rows) == 1
    assert rows[0]["client_msg_id"] == "race"


async def test_message_ids_increase(world: World, db_session: AsyncSession):
    made = []
    for i in range(5):
        made.append(await visitor_says(world.service, world.conversation, f"v{i}"))
        made.append((await world.service.reply(world.conversation, world.olga, f"r{i}"))[0])
    ids = [m.id for m in made]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert [m.id for m in await staff_messages(db_session, world.conversation.id)] == ids


async def test_append_moves_last_activity(world: World, settings: Settings):
    before = (await committed_conversation(settings, world.conversation.id))["last_activity_at"]
    await visitor_says(world.service, world.conversation, "ping")
    after = (await committed_conversation(settings, world.conversation.id))["last_activity_at"]
    assert after > before


# --- read markers ---------------------------------------------------------------------------


async def test_operator_read_marker(world: World, settings: Settings):
    s, c = world.service, world.conversation
    v1 = await visitor_says(s, c, "one")
    v2 = await visitor_says(s, c, "two")
    r1, _ = await s.reply(c, world.olga, "answer")
    v3 = await visitor_says(s, c, "three")

    assert await s.mark_read_by_operator(c, v2.id) == v2.id
    row = await committed_conversation(settings, c.id)
    assert row["operator_last_read_id"] == v2.id
    assert row["visitor_last_read_id"] is None
    read = {m["id"]: m["read_at"] for m in await committed_messages(settings, c.id)}
    assert read[v1.id] is not None
    assert read[v2.id] is not None
    assert read[r1.id] is None  # operators do not "read" their own replies
    assert read[v3.id] is None

    # A marker never goes backwards.
    assert await s.mark_read_by_operator(c, v1.id) == v2.id
    assert (await committed_conversation(settings, c.id))["operator_last_read_id"] == v2.id

    # Past the end: the marker lands on the last message that exists.
    assert await s.mark_read_by_operator(c, v3.id + 1000) == v3.id
    read = {m["id"]: m["read_at"] for m in await committed_messages(settings, c.id)}
    assert read[v3.id] is not None
    assert read[r1.id] is None


async def test_read_marker_before_any_message_is_none(world: World, settings: Settings):
    assert await world.service.mark_read_by_operator(world.conversation, 10**9) is None
    assert await world.service.mark_read_by_visitor(world.conversation, 10**9) is None
    v1 = await visitor_says(world.service, world.conversation, "hi")
    assert await world.service.mark_read_by_operator(world.conversation, v1.id - 1) is None
    row = await committed_conversation(settings, world.conversation.id)
    assert row["operator_last_read_id"] is None


async def test_visitor_read_marker_marks_staff_messages_but_not_notes(
    world: World, settings: Settings
):
    s, c = world.service, world.conversation
    v1 = await visitor_says(s, c, "hi")
    r1, _ = await s.reply(c, world.olga, "hello")
    await s.change_status(c, "pending", world.olga)
    note = await s.add_note(c, world.olga, "internal")

    marker = await s.mark_read_by_visitor(c, note.id)
    rows = {m["id"]: m for m in await committed_messages(settings, c.id)}
    event_id = next(i for i, m in rows.items() if m["kind"] == "event")
    assert marker == event_id  # the last message the visitor can see, never a note's id
    assert (await committed_conversation(settings, c.id))["visitor_last_read_id"] == event_id
    assert rows[r1.id]["read_at"] is not None
    assert rows[event_id]["read_at"] is not None
    assert rows[note.id]["read_at"] is None
    assert rows[v1.id]["read_at"] is None  # the visitor's own message is read by operators


async def test_visitor_read_marker_never_lands_on_a_note(world: World, settings: Settings):
    s, c = world.service, world.conversation
    r1, _ = await s.reply(c, world.olga, "hello")
    note = await s.add_note(c, world.olga, "internal")
    assert await s.mark_read_by_visitor(c, note.id + 1000) == r1.id
    assert (await committed_conversation(settings, c.id))["visitor_last_read_id"] == r1.id


async def test_operator_read_does_not_mark_notes(world: World, settings: Settings):
    s, c = world.service, world.conversation
    v1 = await visitor_says(s, c, "hi")
    note = await s.add_note(c, world.olga, "internal")
    # The operator read up to the note: the marker (sent to the visitor as a receipt) is the
    # last message the visitor can see, never the note's id.
    assert await s.mark_read_by_operator(c, note.id) == v1.id
    rows = {m["id"]: m for m in await committed_messages(settings, c.id)}
    assert rows[v1.id]["read_at"] is not None
    assert rows[note.id]["read_at"] is None
    assert (await committed_conversation(settings, c.id))["operator_last_read_id"] == v1.id


async def test_operator_receipt_never_carries_a_note_id(world: World, settings: Settings):
    """Issue 11: the receipt recorded for the visitor's channel names a message they see."""
    s, c = world.service, world.conversation
    v1 = await visitor_says(s, c, "hi")
    note = await s.add_note(c, world.olga, "internal")
    session = s.repository.session
    take_committed(session)  # the events so far (the test's service commits each call)
    assert await s.mark_read_by_operator(c, note.id + 1000) == v1.id
    recorded = take_committed(session) + pending(session)
    receipts = [e for e in recorded if e.name == "receipt"]
    assert [e.data["up_to_id"] for e in receipts] == [v1.id]
    assert note.id not in [e.data["up_to_id"] for e in receipts]


# --- scope ----------------------------------------------------------------------------------


async def test_scope_query_and_can_see_agree_for_operators_and_admins(
    world: World, db_session: AsyncSession
):
    kazan_conv = await make_conversation(db_session, world.inbox, world.kazan.id, name="K")
    orphan = await make_conversation(db_session, world.inbox, None, name="O")
    both = await make_user(
        db_session, [world.moscow, world.kazan], email="both@example.com", name="Both"
    )
    nobody = await make_user(db_session, [], email="none@example.com", name="None")
    retired = await make_user(
        db_session, [world.moscow], email="old@example.com", name="Old", active=False
    )
    retired_admin = await make_user(
        db_session,
        [],
        email="oldadmin@example.com",
        name="Old admin",
        role=UserRole.ADMIN,
        active=False,
    )
    conversations = {
        "moscow": world.conversation,
        "kazan": kazan_conv,
        "orphan": orphan,
    }
    expected = {
        "olga": (world.olga, {"moscow"}),
        "ivan": (world.ivan, {"kazan"}),
        "both": (both, {"moscow", "kazan"}),
        "nobody": (nobody, set()),
        "retired": (retired, set()),
        "admin": (world.admin, {"moscow", "kazan", "orphan"}),
        "retired_admin": (retired_admin, set()),
    }
    by_id = {c.id: name for name, c in conversations.items()}
    for who, (user, visible) in expected.items():
        result = await db_session.execute(scope_query(select(Conversation), user))
        assert {by_id[c.id] for c in result.scalars()} == visible, who
        assert {name for name, c in conversations.items() if can_see(user, c)} == visible, who
