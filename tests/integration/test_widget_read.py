"""The visitor's read marker in one statement (``HotPath.read``, messenger/widget/hotpath.py):
the same rows and the same staff receipt as the general path
(``WidgetService.read`` -> ``receipts.mark_read`` in one unit of work), idempotent, nothing
for a closed conversation, and the marker never going back under parallel calls.

Which path served a read is read from ``messenger_widget_path_total``. The general path is
run as the app runs it when the lean one steps aside: ``WidgetService`` in a unit of work
that commits, then publishes (:func:`messenger.realtime.transaction.transaction`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.links import AttachmentLinks
from messenger.attachments.storage import storage_from_settings
from messenger.config import Settings
from messenger.db.direct import DirectDatabase, asyncpg_dsn
from messenger.db.models import Conversation, Inbox, Message, OutboxEntry, UserRole
from messenger.realtime.events import Envelope
from messenger.visitors.geo import GeoLocator
from messenger.widget.hotpath import HotPath
from messenger.widget.service import WidgetService
from messenger.widget.sessions import WidgetSession
from tests.support.app import ClientFactory
from tests.support.desk import OperatorDesk, StaffWatch
from tests.support.factories import make_branch, make_inbox, make_user
from tests.support.waiting import eventually
from tests.support.widget import WidgetVisitor, visitor_of

pytestmark = pytest.mark.timeout(90)


def _served(path: str) -> int:
    value = REGISTRY.get_sample_value("messenger_widget_path_total", {"call": "read", "path": path})
    return int(value or 0)


class ReadPaths:
    def __init__(self) -> None:
        self._start = {path: _served(path) for path in ("hot", "general")}

    def since(self) -> dict[str, int]:
        return {path: _served(path) - start for path, start in self._start.items()}


async def _general_read(
    desk: OperatorDesk, settings: Settings, tab: WidgetVisitor, up_to_id: int
) -> int | None:
    """The general path's read (``SessionCalls.read`` without a hot path), as the app
    runs it: one unit of work, committed, then its events published."""
    assert tab.session_token is not None
    inbox_id, visitor_id = visitor_of(tab.session_token)
    async with desk.transaction() as db:
        inbox = await db.get(Inbox, inbox_id)
        assert inbox is not None
        service = WidgetService(
            db=db,
            settings=settings,
            state=desk.backends.state,
            geo=GeoLocator(None),
            storage=storage_from_settings(settings),
        )
        session = WidgetSession(inbox_id=inbox_id, visitor_id=uuid.UUID(visitor_id), issued_at=0)
        return await service.read(inbox, session, up_to_id)


async def _snapshot(db: AsyncSession, conversation_id: str) -> dict[str, Any]:
    """A conversation's rows as they are now (ids kept: compared through :func:`_shape`)."""
    await db.commit()
    key = uuid.UUID(conversation_id)
    conversation = await db.get(Conversation, key, populate_existing=True)
    assert conversation is not None
    messages = list(
        await db.scalars(
            select(Message)
            .where(Message.conversation_id == key)
            .order_by(Message.id)
            .execution_options(populate_existing=True)
        )
    )
    outbox = list(
        await db.scalars(
            select(OutboxEntry.topic).where(
                OutboxEntry.payload["conversation_id"].as_string() == conversation_id
            )
        )
    )
    return {
        "conversation": {
            "id": conversation_id,
            "visitor": str(conversation.visitor_id),
            "visitor_last_read_id": conversation.visitor_last_read_id,
            "operator_last_read_id": conversation.operator_last_read_id,
            "status": conversation.status,
            "updated_at": conversation.updated_at,
            "last_activity_at": conversation.last_activity_at,
        },
        # Kept by a trigger (migration 0004), not mapped.
        "unread_count": await db.scalar(
            text("SELECT unread_count FROM conversations WHERE id = :id"), {"id": key}
        ),
        "messages": [
            {
                "id": m.id,
                "sender": m.sender,
                "kind": m.kind,
                "read_at": m.read_at,
                "delivered_at": m.delivered_at,
                "updated_at": m.updated_at,
            }
            for m in messages
        ],
        "outbox": outbox,
    }


def _shape(
    before: dict[str, Any], after: dict[str, Any], receipt: Envelope | None
) -> dict[str, Any]:
    """What a read changed, without ids and times: message ids as positions, times as
    "unchanged", "the receipt's time" or "changed"."""
    position = {m["id"]: n for n, m in enumerate(after["messages"])}
    at = datetime.fromisoformat(receipt.data["at"]) if receipt is not None else None

    def time(old: datetime | None, new: datetime | None) -> str:
        if new == old:
            return "unchanged"
        return "the receipt's time" if new == at else "changed"

    def touched(old: datetime | None, new: datetime | None) -> str:
        # ``updated_at``: the ORM's clock on the general path, the statement's on the lean one.
        return "unchanged" if new == old else "changed"

    def marker(value: int | None) -> int | None:
        return position[value] if value is not None else None

    old_messages = {m["id"]: m for m in before["messages"]}
    shaped: dict[str, Any] = {
        "conversation": {
            **after["conversation"],
            "id": "this conversation",
            "visitor": "its visitor",
            "visitor_last_read_id": marker(after["conversation"]["visitor_last_read_id"]),
            "operator_last_read_id": marker(after["conversation"]["operator_last_read_id"]),
            "updated_at": touched(
                before["conversation"]["updated_at"], after["conversation"]["updated_at"]
            ),
            "last_activity_at": time(
                before["conversation"]["last_activity_at"],
                after["conversation"]["last_activity_at"],
            ),
        },
        "unread_count": after["unread_count"],
        "messages": [
            {
                **m,
                "id": position[m["id"]],
                "read_at": time(old_messages[m["id"]]["read_at"], m["read_at"]),
                "delivered_at": time(old_messages[m["id"]]["delivered_at"], m["delivered_at"]),
                "updated_at": touched(old_messages[m["id"]]["updated_at"], m["updated_at"]),
            }
            for m in after["messages"]
        ],
        "outbox": after["outbox"][len(before["outbox"]) :],
    }
    if receipt is not None:
        conversation_id, visitor_id = after["conversation"]["id"], after["conversation"]["visitor"]
        assert receipt.conversation_id == receipt.data["conversation_id"] == conversation_id
        assert receipt.visitor_id == visitor_id
        shaped["receipt"] = {
            "event": receipt.event,
            "audience": receipt.audience,
            "branch_id": receipt.branch_id,
            "id": receipt.id,
            "data": {
                **receipt.data,
                "up_to_id": marker(receipt.data["up_to_id"]),
                "at": "the stamped time"
                if at is not None and receipt.data["at"] == at.isoformat()
                else "?",
                "conversation_id": "this conversation",
            },
        }
    return shaped


async def _receipts(watch: StaffWatch, conversation_id: str) -> list[Envelope]:
    await asyncio.sleep(0.3)  # a second, unexpected receipt would have arrived by now
    return [
        e
        for e in watch.seen
        if e.event == "receipt"
        and e.data["kind"] == "read"
        and e.conversation_id == conversation_id
    ]


async def _observe(
    db: AsyncSession, watch: StaffWatch, conversation_id: str, read: Awaitable[int | None]
) -> tuple[int | None, dict[str, Any]]:
    """A read's answer, and what it changed and published (:func:`_shape`)."""
    watch.seen.clear()
    before = await _snapshot(db, conversation_id)
    answer = await read
    receipts = await _receipts(watch, conversation_id)
    assert len(receipts) <= 1
    after = await _snapshot(db, conversation_id)
    return answer, _shape(before, after, receipts[0] if receipts else None)


def _name(ids: dict[str, int], marker: int | None) -> str | None:
    return next((name for name, value in ids.items() if value == marker), None)


async def _branch_inbox(db: AsyncSession, desk: OperatorDesk) -> tuple[Inbox, int, StaffWatch]:
    """A branch inbox, an admin of the branch (by id) and a watch on its staff events."""
    branch = await make_branch(db)
    admin = await make_user(db, [branch], role=UserRole.ADMIN)
    inbox = await make_inbox(db, branch=branch)
    return inbox, admin.id, await desk.watch_branch(branch.id)


async def _conversation_with_staff_messages(
    tab: WidgetVisitor, desk: OperatorDesk, operator_id: int
) -> tuple[str, dict[str, int]]:
    """A visitor message, two replies, a note between them and a status event (system)."""
    await tab.bootstrap()
    hello = await tab.send("hello")
    conversation_id = hello["conversation_id"]
    first = await desk.reply(conversation_id, operator_id, "Hi! How can I help?")
    note = await desk.note(conversation_id, operator_id, "staff only")
    await desk.set_status(conversation_id, operator_id, "pending")
    second = await desk.reply(conversation_id, operator_id, "Anything else?")
    ids = {"hello": hello["id"], "first": first.id, "note": note.id, "second": second.id}
    return conversation_id, ids


async def test_the_lean_read_writes_and_publishes_what_the_general_path_does(
    db_session: AsyncSession,
    widget_client: ClientFactory,
    desk: OperatorDesk,
    settings: Settings,
) -> None:
    inbox, operator_id, watch = await _branch_inbox(db_session, desk)
    async with widget_client() as client:
        lean, general = (
            WidgetVisitor(client, inbox.widget_token),
            WidgetVisitor(client, inbox.widget_token),
        )
        lean_id, lean_ids = await _conversation_with_staff_messages(lean, desk, operator_id)
        general_id, general_ids = await _conversation_with_staff_messages(
            general, desk, operator_id
        )
        # The note's id: the newest message the visitor can see before it is the first reply.
        steps = ("note", "second", "hello", "second")
        lean_shapes, general_shapes, answers = [], [], []
        for step in steps:
            paths = ReadPaths()

            async def lean_read(up_to_id: int) -> int | None:
                answered = await lean.post("/read", {"up_to_id": up_to_id})
                assert answered.status_code == 200, answered.text
                marker: int | None = answered.json()["up_to_id"]
                return marker

            lean_answer, lean_shape = await _observe(
                db_session, watch, lean_id, lean_read(lean_ids[step])
            )
            assert paths.since() == {"hot": 1, "general": 0}
            general_answer, general_shape = await _observe(
                db_session,
                watch,
                general_id,
                _general_read(desk, settings, general, general_ids[step]),
            )
            lean_shapes.append(lean_shape)
            general_shapes.append(general_shape)
            answers.append((_name(lean_ids, lean_answer), _name(general_ids, general_answer)))

    assert lean_shapes == general_shapes
    assert answers == [("first", "first")] + [("second", "second")] * 3
    # What the comparison covered: a receipt only when the marker moved, no webhook event.
    assert ["receipt" in shape for shape in lean_shapes] == [True, True, False, False]
    first_read, second_read = lean_shapes[0], lean_shapes[1]
    assert [m["read_at"] for m in first_read["messages"]] == [
        "unchanged",  # the visitor's own message
        "the receipt's time",  # the first reply
        "unchanged",  # the note is never read by the visitor
        "unchanged",
        "unchanged",
    ]
    assert [m["read_at"] for m in second_read["messages"]] == [
        "unchanged",
        "unchanged",
        "unchanged",
        "the receipt's time",  # the status event (system)
        "the receipt's time",  # the second reply
    ]
    assert first_read["conversation"]["updated_at"] == "changed"
    assert [m["updated_at"] for m in first_read["messages"]] == ["unchanged", "changed"] + [
        "unchanged"
    ] * 3
    assert first_read["conversation"]["visitor_last_read_id"] == 1
    assert first_read["receipt"] == {
        "event": "receipt",
        "audience": "staff",
        "branch_id": inbox.branch_id,
        "id": None,
        "data": {
            "kind": "read",
            "by": "visitor",
            "up_to_id": 1,
            "at": "the stamped time",
            "conversation_id": "this conversation",
        },
    }
    assert all(shape["outbox"] == [] for shape in lean_shapes)


async def test_a_read_before_the_first_message_or_in_a_closed_conversation_marks_nothing(
    db_session: AsyncSession, widget_client: ClientFactory, desk: OperatorDesk
) -> None:
    inbox, admin_id, _ = await _branch_inbox(db_session, desk)
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        paths = ReadPaths()
        nothing_yet = await tab.post("/read", {"up_to_id": 10**6})
        hello = await tab.send("hello")
        reply = await desk.reply(hello["conversation_id"], admin_id, "Hi!")
        await desk.set_status(hello["conversation_id"], admin_id, "closed")
        closed = await tab.post("/read", {"up_to_id": reply.id})
        huge = await tab.post("/read", {"up_to_id": 2**62})
        beyond = await tab.post("/read", {"up_to_id": 2**63})  # no bigint: refused

    assert [r.json() for r in (nothing_yet, closed, huge)] == [{"up_to_id": None}] * 3
    assert beyond.status_code == 422, beyond.text
    assert beyond.json()["errors"][0]["key"] == "up_to_id"
    assert paths.since() == {"hot": 3, "general": 0}
    stored = await db_session.get(Message, reply.id, populate_existing=True)
    assert stored is not None
    assert stored.read_at is None
    conversation = await db_session.get(
        Conversation, uuid.UUID(hello["conversation_id"]), populate_existing=True
    )
    assert conversation is not None
    assert conversation.visitor_last_read_id is None


@pytest.mark.parametrize("meanwhile", ["further", "not as far"])
async def test_a_read_racing_another_never_moves_the_marker_back(
    db_session: AsyncSession,
    widget_client: ClientFactory,
    desk: OperatorDesk,
    settings: Settings,
    meanwhile: str,
) -> None:
    """Another read holds the conversation's row when the lean statement comes to update it,
    and commits a marker further than this read's (or not as far): the statement checks its
    condition again on the committed row, so the marker never goes back; a read that lost
    steps aside (the general path then answers the marker that won) and tells staff nothing.

    The statement is called directly: the in-process test client serves one request at a
    time, so two requests cannot be made to meet in the database through it."""
    inbox, operator_id, watch = await _branch_inbox(db_session, desk)
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        conversation_id, ids = await _conversation_with_staff_messages(tab, desk, operator_id)
    further = meanwhile == "further"
    other, mine = (ids["second"], ids["first"]) if further else (ids["first"], ids["second"])
    assert tab.session_token is not None
    visitor_id = uuid.UUID(visitor_of(tab.session_token)[1])
    dsn = asyncpg_dsn(settings.effective_database_url)
    direct = DirectDatabase(settings.effective_database_url, 2)
    hot = HotPath(direct, desk.publisher, AttachmentLinks(settings.require_secret_key()))
    racer, watcher = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        async with racer.transaction():
            await racer.execute(
                "UPDATE conversations SET visitor_last_read_id = $1 WHERE id = $2",
                other,
                uuid.UUID(conversation_id),
            )
            reading = asyncio.create_task(
                hot.read(inbox_id=inbox.id, visitor_id=visitor_id, up_to_id=mine)
            )
            await eventually(lambda: _waits_for_a_lock(watcher), within=10)
        read = await reading
    finally:
        await racer.close()
        await watcher.close()
        await direct.close()
    receipts = await _receipts(watch, conversation_id)

    conversation = await db_session.get(
        Conversation, uuid.UUID(conversation_id), populate_existing=True
    )
    assert conversation is not None
    stamped = [
        at is not None
        for at in await db_session.scalars(
            select(Message.read_at)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.id)
        )
    ]
    if further:
        assert read is None  # the caller takes the general path, which answers the winner
        assert await _general_read(desk, settings, tab, mine) == other
        assert conversation.visitor_last_read_id == other
        assert receipts == []
        assert stamped == [False] * 5  # the racer stamped nothing, and the loser neither
    else:
        assert read is not None
        assert read.up_to_id == mine
        assert conversation.visitor_last_read_id == mine
        assert [r.data["up_to_id"] for r in receipts] == [mine]
        # From the marker this statement saw (none) up to its own, the racer's included:
        # the first reply, the status event and the second reply (not the note).
        assert stamped == [False, True, False, True, True]


async def _waits_for_a_lock(connection: asyncpg.Connection) -> bool:
    """Whether a statement waits for a row lock in this database (asked outside the
    racer's transaction, which would see one snapshot of the activity)."""
    waiting = await connection.fetchval(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return bool(waiting)
