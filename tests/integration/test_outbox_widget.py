"""Visitor writes fire webhook events too: the general path through the session's commit,
the hot path (one SQL statement) through its own outbox insert — the same rows either way
when an endpoint is subscribed; with none, the hot path writes no row nobody would read."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db.models import OutboxEntry, UserRole
from tests.support.app import RELAXED_ENV, app_client
from tests.support.desk import OperatorDesk
from tests.support.factories import make_branch, make_inbox, make_user, make_webhook_endpoint
from tests.support.widget import WidgetVisitor

pytestmark = pytest.mark.timeout(60)


def hot_sends() -> float:
    return (
        REGISTRY.get_sample_value("messenger_widget_path_total", {"call": "send", "path": "hot"})
        or 0.0
    )


async def outbox(db: AsyncSession) -> list[tuple[str, dict[str, object]]]:
    await db.commit()
    rows = await db.scalars(select(OutboxEntry).order_by(OutboxEntry.id))
    return [(row.topic, row.payload) for row in rows]


async def test_widget_sends_on_both_paths_write_the_same_events(
    db_session: AsyncSession, desk: OperatorDesk, env: dict[str, str], tmp_path: Path
) -> None:
    branch = await make_branch(db_session)
    admin = await make_user(db_session, [branch], role=UserRole.ADMIN)
    inbox = await make_inbox(db_session, branch=branch)
    await make_webhook_endpoint(db_session, inbox=inbox)
    settings = Settings.from_env({**env, **RELAXED_ENV, "MESSENGER_DATA_DIR": str(tmp_path)})
    async with app_client(settings) as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        first = await tab.send("Hello")  # the general path: a new conversation
        before = hot_sends()
        second = await tab.send("Second", client_msg_id="same-id")
        retry = await tab.send_raw("Second", client_msg_id="same-id")  # nothing new
        assert retry.status_code == 200
        assert hot_sends() - before >= 1
        conversation_id = first["conversation_id"]
        await desk.set_status(conversation_id, admin.id, "resolved")
        before = hot_sends()
        third = await tab.send("Reopening")  # the hot path reopens it
        assert hot_sends() - before == 1

    events = await outbox(db_session)
    messages = [p["message_id"] for t, p in events if t == "message.created"]
    assert messages == [first["id"], second["id"], third["id"]]
    assert ("conversation.created", {"conversation_id": conversation_id}) in events
    statuses = [p["status"] for t, p in events if t == "conversation.status_changed"]
    assert statuses[-2:] == ["resolved", "open"]
    # The reopening comes before the message that reopened it, as on the general path.
    topics = [t for t, _ in events]
    assert topics[-2:] == ["conversation.status_changed", "message.created"]
    assert all(p["conversation_id"] == conversation_id for _, p in events)


EVERY = [
    "conversation.created",
    "conversation.status_changed",
    "message.created",  # the first message (its own one statement)
    "message.created",  # the second (the hot send)
    "conversation.status_changed",  # reopened by the third (the hot send)
    "message.created",
]


@pytest.mark.parametrize(
    ("subscriber", "written"),
    [
        pytest.param(None, [], id="no-endpoint"),
        pytest.param({"enabled": False}, [], id="switched-off"),
        pytest.param({"inbox": "other"}, [], id="another-inbox"),
        pytest.param({"events": ["conversation.assigned"]}, [], id="other-events"),
        pytest.param({}, EVERY, id="every-event"),
        pytest.param({"inbox": "this"}, EVERY, id="this-inbox"),
        pytest.param({"events": ["message.created"]}, ["message.created"] * 3, id="messages"),
        pytest.param(
            {"events": ["conversation.status_changed"]},
            ["conversation.status_changed"] * 2,
            id="statuses",
        ),
    ],
)
async def test_visitor_statements_write_only_the_events_an_endpoint_wants(
    db_session: AsyncSession,
    desk: OperatorDesk,
    env: dict[str, str],
    tmp_path: Path,
    subscriber: dict[str, object] | None,
    written: list[str],
) -> None:
    """The first message's and the hot send's statements write a visitor's events only for
    an enabled endpoint that wants them; the general path (here the operator's resolution)
    writes its rows as before, for the worker to decide (mail follows resolutions)."""
    branch = await make_branch(db_session)
    admin = await make_user(db_session, [branch], role=UserRole.ADMIN)
    inbox = await make_inbox(db_session, branch=branch)
    if subscriber is not None:
        options = dict(subscriber)
        scope = options.pop("inbox", None)
        if scope is not None:
            other = await make_inbox(db_session, branch=branch, name="Other")
            options["inbox"] = inbox if scope == "this" else other
        await make_webhook_endpoint(db_session, **options)  # type: ignore[arg-type]
    settings = Settings.from_env({**env, **RELAXED_ENV, "MESSENGER_DATA_DIR": str(tmp_path)})
    async with app_client(settings) as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        first = await tab.send("Hello")  # a new visitor's first message: one statement
        before = hot_sends()
        await tab.send("Second")
        sent = await outbox(db_session)
        await desk.set_status(first["conversation_id"], admin.id, "resolved")
        resolved = await outbox(db_session)
        await tab.send("Reopening")
        reopened = await outbox(db_session)
        assert hot_sends() - before == 2
    visitor_rows = sent + reopened[len(resolved) :]
    assert [topic for topic, _ in visitor_rows] == written
    assert resolved[len(sent) :][0] == (
        "conversation.status_changed",
        {"conversation_id": first["conversation_id"], "status": "resolved"},
    )
