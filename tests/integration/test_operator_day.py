"""The operator's day on the services, against PostgreSQL and Redis: auto-assignment (scope,
capacity, round robin, least busy, offline return to the pool), snooze, transfer, labels."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.assignment import auto_assign, return_offline_to_pool
from messenger.conversations.labels import add_label, create_label, remove_label
from messenger.conversations.listing import ConversationFilters, Cursor, list_conversations
from messenger.conversations.service import ConversationService
from messenger.conversations.snooze import snooze, snooze_time, wake_snoozed
from messenger.conversations.timeline import staff_messages, visitor_messages
from messenger.conversations.transfer import transfer
from messenger.db.events import pending
from messenger.db.models import (
    Branch,
    Conversation,
    ConversationStatus,
    Inbox,
    MessageKind,
    MessageSender,
    User,
    UserRole,
)
from messenger.errors import InvalidInputError, NotFoundError
from messenger.presence import RedisPresence
from tests.support.factories import make_branch, make_conversation, make_inbox, make_user


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    from messenger.accounts import passwords

    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def presence(redis: Redis, redis_prefix: str) -> RedisPresence:
    return RedisPresence(redis, prefix=f"{redis_prefix}:presence")


def now() -> datetime:
    return datetime.now(UTC)


async def operators(
    db: AsyncSession, branch: Branch, *names: str, capacity: int = 10
) -> list[User]:
    users = []
    for name in names:
        user = await make_user(db, [branch], email=f"{name.lower()}@example.com", name=name)
        user.capacity = capacity
        users.append(user)
    await db.commit()
    return users


async def inbox_with(db: AsyncSession, branch: Branch, mode: str) -> Inbox:
    return await make_inbox(db, branch=branch, settings={"assignment": {"mode": mode}})


async def new_conversation(
    db: AsyncSession, presence: RedisPresence, inbox: Inbox, branch: Branch
) -> Conversation:
    """A conversation started by a visitor's first message, auto-assigned as the widget does."""
    conversation = await make_conversation(db, inbox, branch.id)
    await ConversationService(session=db).append(
        conversation, sender=MessageSender.VISITOR, body="hello"
    )
    await auto_assign(db, presence, conversation, inbox, now())
    await db.commit()
    return conversation


# --- auto-assignment ------------------------------------------------------------------------


async def test_round_robin_takes_online_operators_of_the_branch_in_turn(
    db_session: AsyncSession, presence: RedisPresence
) -> None:
    moscow, kazan = await make_branch(db_session, "Moscow"), await make_branch(db_session, "Kazan")
    anna, boris, vera = await operators(db_session, moscow, "Anna", "Boris", "Vera")
    (outsider,) = await operators(db_session, kazan, "Kazan")
    await presence.touch(anna.id, [moscow.id])
    await presence.touch(boris.id, [moscow.id])
    await presence.touch(outsider.id, [kazan.id])  # online, but not in this branch
    # Vera is in the branch but offline: never chosen.
    inbox = await inbox_with(db_session, moscow, "round_robin")
    assigned = [
        (await new_conversation(db_session, presence, inbox, moscow)).assignee_id for _ in range(4)
    ]
    assert assigned == [anna.id, boris.id, anna.id, boris.id]
    assert vera.id not in assigned


async def test_manual_inbox_leaves_conversations_unassigned(
    db_session: AsyncSession, presence: RedisPresence
) -> None:
    moscow = await make_branch(db_session)
    (anna,) = await operators(db_session, moscow, "Anna")
    await presence.touch(anna.id, [moscow.id])
    inbox = await inbox_with(db_session, moscow, "manual")
    conversation = await new_conversation(db_session, presence, inbox, moscow)
    assert conversation.assignee_id is None


async def test_capacity_is_never_exceeded_and_then_nobody_qualifies(
    db_session: AsyncSession, presence: RedisPresence
) -> None:
    moscow = await make_branch(db_session)
    anna, boris = await operators(db_session, moscow, "Anna", "Boris", capacity=1)
    for user in (anna, boris):
        await presence.touch(user.id, [moscow.id])
    inbox = await inbox_with(db_session, moscow, "round_robin")
    first = await new_conversation(db_session, presence, inbox, moscow)
    second = await new_conversation(db_session, presence, inbox, moscow)
    third = await new_conversation(db_session, presence, inbox, moscow)
    assert {first.assignee_id, second.assignee_id} == {anna.id, boris.id}
    assert third.assignee_id is None  # stays unassigned, visible to the whole branch
    # Resolving one frees a place: the next goes to that operator.
    first.status = ConversationStatus.RESOLVED
    await db_session.commit()
    fourth = await new_conversation(db_session, presence, inbox, moscow)
    assert fourth.assignee_id == first.assignee_id


async def test_least_busy_picks_the_operator_with_fewest_open_conversations(
    db_session: AsyncSession, presence: RedisPresence
) -> None:
    moscow = await make_branch(db_session)
    anna, boris = await operators(db_session, moscow, "Anna", "Boris")
    manual = await inbox_with(db_session, moscow, "manual")
    service = ConversationService(session=db_session)
    for _ in range(2):  # Anna already has two open conversations
        conversation = await make_conversation(db_session, manual, moscow.id)
        await service.assign(conversation, anna.id, anna)
    await db_session.commit()
    for user in (anna, boris):
        await presence.touch(user.id, [moscow.id])
    inbox = await inbox_with(db_session, moscow, "least_busy")
    picked = [
        (await new_conversation(db_session, presence, inbox, moscow)).assignee_id for _ in range(3)
    ]
    # Boris 0 → 1 → 2 (tie with Anna: round-robin order gives it to Anna, never assigned yet).
    assert picked == [boris.id, boris.id, anna.id]


async def test_zero_capacity_and_inactive_operators_are_never_auto_assigned(
    db_session: AsyncSession, presence: RedisPresence
) -> None:
    moscow = await make_branch(db_session)
    (anna,) = await operators(db_session, moscow, "Anna", capacity=0)
    boris = await make_user(
        db_session, [moscow], email="boris@example.com", name="Boris", active=False
    )
    for user in (anna, boris):
        await presence.touch(user.id, [moscow.id])
    inbox = await inbox_with(db_session, moscow, "round_robin")
    assert (await new_conversation(db_session, presence, inbox, moscow)).assignee_id is None


async def test_an_operator_offline_too_long_returns_waiting_conversations_to_the_pool(
    db_session: AsyncSession, presence: RedisPresence
) -> None:
    moscow = await make_branch(db_session)
    anna, boris = await operators(db_session, moscow, "Anna", "Boris")
    await presence.touch(anna.id, [moscow.id], ttl=45)
    await presence.touch(boris.id, [moscow.id], ttl=45)
    inbox = await inbox_with(db_session, moscow, "round_robin")
    waiting = await new_conversation(db_session, presence, inbox, moscow)  # Anna's
    answered = await new_conversation(db_session, presence, inbox, moscow)  # Boris's
    also_anna = await new_conversation(db_session, presence, inbox, moscow)
    assert (waiting.assignee_id, answered.assignee_id) == (anna.id, boris.id)
    await ConversationService(session=db_session).reply(also_anna, anna, "on it")
    await db_session.commit()

    soon = now() + timedelta(minutes=5)
    assert await return_offline_to_pool(db_session, presence, soon, 10) == 0
    # Eleven minutes after their presence ran out, both are away for more than ten.
    later = datetime.fromtimestamp(time.time() + 45, UTC) + timedelta(minutes=11)
    await presence.touch(boris.id, [moscow.id], ttl=15 * 60)  # Boris came back
    returned = await return_offline_to_pool(db_session, presence, later, 10)
    # Live screens are told (published after the commit).
    assert [e.data for e in pending(db_session)] == [
        {"conversation_id": str(waiting.id), "assignee": None}
    ]
    await db_session.commit()
    assert returned == 1
    assert await _assignee(db_session, waiting) is None  # the visitor waits: back to the pool
    assert await _assignee(db_session, also_anna) == anna.id  # answered: stays hers
    assert await _assignee(db_session, answered) == boris.id  # Boris is online
    # Idempotent: another round (another process) finds nothing more.
    assert await return_offline_to_pool(db_session, presence, later, 10) == 0


async def _assignee(db: AsyncSession, conversation: Conversation) -> int | None:
    return await db.scalar(
        select(Conversation.assignee_id).where(Conversation.id == conversation.id)
    )


# --- snooze ---------------------------------------------------------------------------------


def test_snooze_presets_follow_the_operators_time_zone() -> None:
    # Wednesday 2026-12-02 22:30 UTC is Thursday 01:30 in Moscow (UTC+3).
    moment = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)
    assert snooze_time("hour", moment, "Europe/Moscow") == moment + timedelta(hours=1)
    tomorrow = snooze_time("tomorrow", moment, "Europe/Moscow")
    assert tomorrow.astimezone(UTC) == datetime(2026, 12, 4, 6, 0, tzinfo=UTC)  # Fri 09:00 MSK
    assert snooze_time("tomorrow", moment, "UTC") == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    monday = snooze_time("next_week", moment, "Europe/Moscow")
    assert monday.astimezone(UTC) == datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    custom = snooze_time("custom", moment, "Europe/Moscow", "2026-12-10T14:15")
    assert custom.astimezone(UTC) == datetime(2026, 12, 10, 11, 15, tzinfo=UTC)
    with pytest.raises(InvalidInputError):
        snooze_time("custom", moment, "UTC", "soon")
    with pytest.raises(InvalidInputError):
        snooze_time("forever", moment, "UTC")


async def _setup(db: AsyncSession) -> dict[str, Any]:
    moscow, kazan = await make_branch(db, "Moscow"), await make_branch(db, "Kazan")
    (anna,) = await operators(db, moscow, "Anna")
    (kira,) = await operators(db, kazan, "Kira")
    admin = await make_user(db, [], email="admin@example.com", name="Admin", role=UserRole.ADMIN)
    inbox = await make_inbox(db, branch=moscow)
    conversation = await make_conversation(db, inbox, moscow.id)
    await ConversationService(session=db).append(
        conversation, sender=MessageSender.VISITOR, body="hello"
    )
    await db.commit()
    return {
        "moscow": moscow,
        "kazan": kazan,
        "anna": anna,
        "kira": kira,
        "admin": admin,
        "inbox": inbox,
        "conversation": conversation,
    }


async def test_a_snoozed_conversation_wakes_when_its_time_comes_once(
    db_session: AsyncSession,
) -> None:
    s = await _setup(db_session)
    conversation, anna = s["conversation"], s["anna"]
    start = now()
    with pytest.raises(NotFoundError):  # out of scope
        await snooze(db_session, conversation, s["kira"], start + timedelta(hours=1), start)
    with pytest.raises(InvalidInputError):
        await snooze(db_session, conversation, anna, start - timedelta(minutes=1), start)
    await snooze(db_session, conversation, anna, start + timedelta(hours=1), start)
    await db_session.commit()
    assert conversation.status == ConversationStatus.PENDING

    assert await wake_snoozed(db_session, start + timedelta(minutes=59)) == 0
    assert await wake_snoozed(db_session, start + timedelta(hours=1)) == 1
    woke = [e for e in pending(db_session) if e.conversation_id == conversation.id]
    assert [e.data["status"] for e in woke] == ["open"]
    await db_session.commit()
    # Another process's round finds nothing left.
    assert await wake_snoozed(db_session, start + timedelta(hours=2)) == 0
    row = (
        await db_session.execute(
            select(Conversation.status, Conversation.snoozed_until).where(
                Conversation.id == conversation.id
            )
        )
    ).one()
    assert tuple(row) == (ConversationStatus.OPEN, None)


# --- transfer -------------------------------------------------------------------------------


async def test_transfer_to_another_branch_moves_the_scope_and_tells_the_visitor_neutrally(
    db_session: AsyncSession,
) -> None:
    s = await _setup(db_session)
    conversation, anna, kira = s["conversation"], s["anna"], s["kira"]
    service = ConversationService(session=db_session)
    with pytest.raises(NotFoundError):  # Kira cannot take what she cannot see
        await transfer(db_session, conversation, kira, branch_id=s["moscow"].id)
    with pytest.raises(InvalidInputError):
        await transfer(db_session, conversation, anna)
    with pytest.raises(InvalidInputError):  # nowhere new
        await transfer(db_session, conversation, anna, branch_id=s["moscow"].id)
    await transfer(
        db_session, conversation, anna, branch_id=s["kazan"].id, note="Kazan delivers there"
    )
    await db_session.commit()
    assert (conversation.branch_id, conversation.assignee_id) == (s["kazan"].id, None)
    with pytest.raises(NotFoundError):
        await service.get_for_staff(conversation.id, anna)  # the old branch lost it
    assert (await service.get_for_staff(conversation.id, kira)).id == conversation.id

    seen_by_visitor = await visitor_messages(db_session, conversation.id)
    events = [m for m in seen_by_visitor if m.kind == MessageKind.EVENT]
    assert [(m.body, m.author_id) for m in events] == [("transferred", None)]
    assert all(m.kind != MessageKind.NOTE for m in seen_by_visitor)
    staff = await staff_messages(db_session, conversation.id)
    notes = [m for m in staff if m.kind == MessageKind.NOTE]
    assert [(n.body, n.author_id) for n in notes] == [("Kazan delivers there", anna.id)]


async def test_transfer_to_an_operator_assigns_them_in_their_branch(
    db_session: AsyncSession,
) -> None:
    s = await _setup(db_session)
    conversation, kira = s["conversation"], s["kira"]
    with pytest.raises(InvalidInputError):  # Kira is not in Moscow
        await transfer(
            db_session, conversation, s["admin"], branch_id=s["moscow"].id, operator_id=kira.id
        )
    await transfer(db_session, conversation, s["admin"], operator_id=kira.id)
    await db_session.commit()
    assert (conversation.branch_id, conversation.assignee_id) == (s["kazan"].id, kira.id)


# --- labels ---------------------------------------------------------------------------------


async def test_labels_on_conversations_in_scope_and_the_filtered_keyset_pages(
    db_session: AsyncSession,
) -> None:
    s = await _setup(db_session)
    anna, kira, inbox, moscow = s["anna"], s["kira"], s["inbox"], s["moscow"]
    with pytest.raises(InvalidInputError):
        await create_label(db_session, "", "VIP", "#ff0000")
    with pytest.raises(InvalidInputError):
        await create_label(db_session, "ВИП", "VIP", "red")
    vip = await create_label(db_session, "ВИП", "VIP", "#FF0000")
    assert vip.color == "#ff0000"
    conversations = [s["conversation"]]
    for _ in range(4):
        conversations.append(await make_conversation(db_session, inbox, moscow.id))
    await db_session.commit()
    with pytest.raises(NotFoundError):
        await add_label(db_session, conversations[0], kira, vip.id)
    tagged = conversations[::2]  # three of five
    for conversation in tagged:
        assert await add_label(db_session, conversation, anna, vip.id)
    assert not await add_label(db_session, tagged[0], anna, vip.id)  # already there
    await db_session.commit()

    filters = ConversationFilters(label_id=vip.id)
    first = await list_conversations(db_session, anna, filters, limit=2)
    after = Cursor.of(first[-1].conversation)
    rest = await list_conversations(
        db_session, anna, ConversationFilters(label_id=vip.id, before=after), limit=2
    )
    paged = [r.conversation.id for r in first + rest]
    assert sorted(paged) == sorted(c.id for c in tagged)
    assert len(paged) == 3
    assert all([label.id for label in r.labels] == [vip.id] for r in first + rest)
    assert await list_conversations(db_session, kira, filters) == []  # scope still applies

    assert await remove_label(db_session, tagged[0], anna, vip.id)
    assert not await remove_label(db_session, tagged[0], anna, vip.id)
    await db_session.commit()
    left = await list_conversations(db_session, anna, filters)
    assert {r.conversation.id for r in left} == {c.id for c in tagged[1:]}
