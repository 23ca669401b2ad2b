"""Visitor writes fire webhook events too: the general path through the session's commit,
the hot path (one SQL statement) through its own outbox insert — the same rows either way."""

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
from tests.support.factories import make_branch, make_inbox, make_user
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
