"""Webhooks: outbox rows in the change's own transaction, signed deliveries to a real HTTP
receiver, retries after a 500 or an outage, the SSRF guard, auto-disable, the CLI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from messenger.config import Settings
from messenger.conversations.service import ConversationService
from messenger.db.models import (
    Conversation,
    DeliveryStatus,
    OutboxEntry,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from messenger.webhooks.service import WebhookService
from messenger.webhooks.ssrf import TargetRefused
from messenger.worker.runner import Worker
from tests.support.desk import OperatorDesk
from tests.support.env import cli_env, run_cli
from tests.support.factories import make_branch, make_conversation, make_inbox, make_user
from tests.support.receiver import Receiver
from tests.support.waiting import eventually

FAST = {
    "MESSENGER_WEBHOOK_ALLOW_PRIVATE": "1",
    "MESSENGER_WEBHOOK_BACKOFF_SECONDS": "0.1",
    "MESSENGER_WEBHOOK_BACKOFF_MAX_SECONDS": "0.3",
    "MESSENGER_WEBHOOK_TIMEOUT_SECONDS": "2",
    "MESSENGER_WORKER_POLL_SECONDS": "0.1",
}


@pytest.fixture
def hook_settings(env: dict[str, str]) -> Settings:
    return Settings.from_env({**env, **FAST})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
async def scene(db_session: AsyncSession) -> tuple[Conversation, User]:
    branch = await make_branch(db_session)
    operator = await make_user(db_session, [branch])
    inbox = await make_inbox(db_session, branch=branch)
    conversation = await make_conversation(db_session, inbox, branch.id, name="Anna")
    return conversation, operator


def worker_for(settings: Settings, desk: OperatorDesk) -> Worker:
    return Worker(settings, desk.config.get_session, desk.publisher, periodic=[])


async def run_until(
    worker: Worker, check: Callable[[], Awaitable[Any]], *, within: float = 15.0
) -> Any:
    """Worker rounds until ``check()`` holds."""
    async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:

        async def step() -> Any:
            await worker.tick(client)
            return await check()

        return await eventually(step, within=within, interval=0.05)


async def endpoint_for(db: AsyncSession, url: str, **more: Any) -> WebhookEndpoint:
    endpoint = await WebhookService(db, allow_private=True).create(url, **more)
    await db.commit()
    return endpoint


async def topics(db: AsyncSession) -> list[str]:
    await db.commit()
    return list(await db.scalars(select(OutboxEntry.topic).order_by(OutboxEntry.id)))


def events(receiver: Receiver, event_type: str) -> list[dict[str, Any]]:
    bodies = [json.loads(r.body) for r in receiver.delivered()]
    return [b for b in bodies if b["type"] == event_type]


# --- the outbox ---------------------------------------------------------------------------------


async def test_changes_write_their_events_in_the_same_transaction(
    db_session: AsyncSession, desk: OperatorDesk, scene: tuple[Conversation, User]
) -> None:
    conversation, operator = scene
    await desk.reply(conversation.id, operator.id, "Hello!")
    await desk.note(conversation.id, operator.id, "internal")
    await desk.set_status(conversation.id, operator.id, "resolved")
    assert await topics(db_session) == [
        "conversation.created",
        "message.created",
        "note.created",
        "conversation.status_changed",
    ]


async def test_assigning_and_unassigning_write_conversation_assigned(
    db_session: AsyncSession, desk: OperatorDesk, scene: tuple[Conversation, User]
) -> None:
    conversation, operator = scene
    async with desk.transaction() as db:
        row = await db.get(Conversation, conversation.id)
        user = await db.get(User, operator.id)
        assert row is not None
        assert user is not None
        await db.refresh(user, ["branches"])
        await db.refresh(row, ["assignee"])
        service = ConversationService(session=db)
        await service.assign(row, user.id, user)
        await service.unassign(row, user)
    await db_session.commit()
    rows = list(
        await db_session.scalars(
            select(OutboxEntry)
            .where(OutboxEntry.topic == "conversation.assigned")
            .order_by(OutboxEntry.id)
        )
    )
    assert [r.payload["assignee_id"] for r in rows] == [operator.id, None]


async def test_a_rolled_back_change_writes_no_event(
    db_session: AsyncSession, desk: OperatorDesk, scene: tuple[Conversation, User]
) -> None:
    conversation, operator = scene
    before = await topics(db_session)

    class Boom(Exception):
        pass

    async def reply_then_fail() -> None:
        async with desk.transaction() as db:
            row = await db.get(Conversation, conversation.id)
            user = await db.get(User, operator.id)
            assert row is not None
            assert user is not None
            await db.refresh(user, ["branches"])
            await ConversationService(session=db).reply(row, user, "never sent")
            raise Boom

    with pytest.raises(Boom):
        await reply_then_fail()
    assert await topics(db_session) == before


# --- delivery -------------------------------------------------------------------------------


async def test_events_reach_a_real_receiver_signed_as_standard_webhooks(
    db_session: AsyncSession,
    desk: OperatorDesk,
    hook_settings: Settings,
    receiver: Receiver,
) -> None:
    endpoint = await endpoint_for(db_session, receiver.url)
    branch = await make_branch(db_session, "Kazan")
    operator = await make_user(db_session, [branch], email="k@example.com")
    inbox = await make_inbox(db_session, name="Kazan shop", branch=branch)
    conversation = await make_conversation(db_session, inbox, branch.id, email="v@example.com")
    await desk.reply(conversation.id, operator.id, "Your order has shipped")
    worker = worker_for(hook_settings, desk)

    async def got_message() -> list[dict[str, Any]]:
        return events(receiver, "message.created")

    [body] = await run_until(worker, got_message)
    assert body["data"]["message"]["body"] == "Your order has shipped"
    assert body["data"]["message"]["sender"] == "operator"
    assert body["data"]["conversation"]["id"] == str(conversation.id)
    assert body["data"]["conversation"]["visitor"]["email"] == "v@example.com"
    assert events(receiver, "conversation.created")
    for request in receiver.delivered():
        # The standardwebhooks package verifies id, timestamp and signature (it raises).
        verified = Webhook(endpoint.secret).verify(request.body, request.headers)
        assert verified["type"] in ("conversation.created", "message.created")
        assert request.headers["webhook-id"].startswith("msg_")
        assert request.headers["webhook-signature"].startswith("v1,")
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook("whsec_" + "A" * 44).verify(
            receiver.delivered()[0].body, receiver.delivered()[0].headers
        )


async def test_an_endpoint_gets_only_its_events_and_its_inbox(
    db_session: AsyncSession,
    desk: OperatorDesk,
    hook_settings: Settings,
    receiver: Receiver,
    scene: tuple[Conversation, User],
) -> None:
    conversation, operator = scene
    other_inbox = await make_inbox(db_session, name="Other")
    await endpoint_for(db_session, receiver.url, events=["note.created"])
    await endpoint_for(db_session, receiver.url + "/other", inbox_id=other_inbox.id)
    await desk.reply(conversation.id, operator.id, "visible")
    await desk.note(conversation.id, operator.id, "staff only")
    worker = worker_for(hook_settings, desk)

    async def got_note() -> list[dict[str, Any]]:
        return events(receiver, "note.created")

    [note] = await run_until(worker, got_note)
    assert note["data"]["message"]["kind"] == "note"
    await run_until(worker, lambda: _no_pending(db_session))
    assert {json.loads(r.body)["type"] for r in receiver.delivered()} == {"note.created"}
    assert all(r.path == "/hooks" for r in receiver.received)


async def _no_pending(db: AsyncSession) -> bool:
    await db.commit()
    pending = await db.scalar(
        select(OutboxEntry.id).where(OutboxEntry.status == "pending").limit(1)
    )
    undelivered = await db.scalar(
        select(WebhookDelivery.id).where(WebhookDelivery.status == "pending").limit(1)
    )
    return pending is None and undelivered is None


async def test_a_500_is_retried_with_the_same_webhook_id_until_delivered(
    db_session: AsyncSession,
    desk: OperatorDesk,
    hook_settings: Settings,
    receiver: Receiver,
    scene: tuple[Conversation, User],
) -> None:
    conversation, operator = scene
    await endpoint_for(db_session, receiver.url, events=["message.created"])
    receiver.status = 500
    await desk.reply(conversation.id, operator.id, "retry me")
    worker = worker_for(hook_settings, desk)

    async def two_failures() -> bool:
        return len(receiver.received) >= 2

    await run_until(worker, two_failures)
    receiver.status = 204

    async def delivered() -> list[Any]:
        return receiver.delivered()

    await run_until(worker, delivered)
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(ids) == 1, ids
    await db_session.commit()
    row = await db_session.scalar(select(WebhookDelivery))
    assert row is not None
    assert row.status == DeliveryStatus.DELIVERED
    assert row.attempts >= 3
    assert row.response_code == 204


async def test_a_receiver_that_is_down_gets_the_event_once_it_is_back(
    db_session: AsyncSession,
    desk: OperatorDesk,
    hook_settings: Settings,
    scene: tuple[Conversation, User],
) -> None:
    conversation, operator = scene
    receiver = Receiver()  # not started: connections are refused
    await endpoint_for(db_session, receiver.url, events=["message.created"])
    await desk.reply(conversation.id, operator.id, "while you were away")
    worker = worker_for(hook_settings, desk)

    async def failed_attempts() -> bool:
        await db_session.commit()
        row = await db_session.scalar(select(WebhookDelivery))
        return row is not None and row.attempts >= 2 and row.response_code is None

    await run_until(worker, failed_attempts)
    receiver.start()
    try:

        async def delivered() -> list[Any]:
            return receiver.delivered()

        [request] = await run_until(worker, delivered)
        assert json.loads(request.body)["data"]["message"]["body"] == "while you were away"
    finally:
        receiver.stop()


async def test_a_failure_streak_disables_the_endpoint(
    db_session: AsyncSession,
    desk: OperatorDesk,
    env: dict[str, str],
    receiver: Receiver,
    scene: tuple[Conversation, User],
) -> None:
    conversation, operator = scene
    settings = Settings.from_env({**env, **FAST, "MESSENGER_WEBHOOK_DISABLE_AFTER": "3"})
    endpoint = await endpoint_for(db_session, receiver.url)
    receiver.status = 503
    await desk.reply(conversation.id, operator.id, "nobody listens")
    worker = worker_for(settings, desk)

    async def disabled() -> bool:
        row = await _fresh_endpoint(db_session, endpoint.id)
        return not row.enabled

    await run_until(worker, disabled)
    row = await _fresh_endpoint(db_session, endpoint.id)
    assert row.disabled_at is not None
    assert row.failure_streak >= 3
    assert [e.id for e in await WebhookService(db_session, allow_private=True).disabled()] == [
        endpoint.id
    ]
    # Re-enabled by an admin: the streak starts over and the pending deliveries go out.
    await WebhookService(db_session, allow_private=True).set_enabled(endpoint.id, True)
    await db_session.commit()
    receiver.status = 200

    async def delivered() -> list[Any]:
        return receiver.delivered()

    await run_until(worker, delivered)


async def _fresh_endpoint(db: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
    await db.commit()
    row = await db.get(WebhookEndpoint, endpoint_id, populate_existing=True)
    assert row is not None
    return row


async def test_send_again_and_a_test_event(
    db_session: AsyncSession, desk: OperatorDesk, hook_settings: Settings, receiver: Receiver
) -> None:
    endpoint = await endpoint_for(db_session, receiver.url)
    service = WebhookService(db_session, allow_private=True)
    await service.send_test(endpoint.id)
    await db_session.commit()
    worker = worker_for(hook_settings, desk)

    async def got(n: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return len(receiver.delivered()) >= n

        return check

    await run_until(worker, await got(1))
    first = receiver.delivered()[0]
    assert json.loads(first.body)["type"] == "webhook.test"
    [logged] = await service.log(endpoint.id)
    await service.send_again(endpoint.id, logged.id)
    await db_session.commit()
    await run_until(worker, await got(2))
    second = receiver.delivered()[1]
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert second.body == first.body


# --- the SSRF guard --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://100.100.100.200/hook",
        "ftp://example.com/hook",
        "http://user:pass@example.com/hook",
    ],
)
async def test_private_and_metadata_targets_are_refused_at_registration(
    db_session: AsyncSession, url: str
) -> None:
    with pytest.raises(TargetRefused):
        await WebhookService(db_session, allow_private=False).create(url)


async def test_a_private_target_is_refused_at_delivery_too(
    db_session: AsyncSession,
    desk: OperatorDesk,
    env: dict[str, str],
    receiver: Receiver,
    scene: tuple[Conversation, User],
) -> None:
    conversation, operator = scene
    # Registered while private targets were allowed; the worker no longer allows them.
    await endpoint_for(db_session, receiver.url, events=["message.created"])
    strict = Settings.from_env({**env, **FAST, "MESSENGER_WEBHOOK_ALLOW_PRIVATE": "0"})
    await desk.reply(conversation.id, operator.id, "to nowhere")
    worker = worker_for(strict, desk)

    async def refused() -> WebhookDelivery | None:
        await db_session.commit()
        row = await db_session.scalar(select(WebhookDelivery))
        return row if row is not None and row.attempts >= 1 else None

    row = await run_until(worker, refused)
    assert row.last_error is not None
    assert row.last_error.startswith("refused")
    assert receiver.received == []


async def test_the_cli_registers_an_endpoint_and_refuses_a_private_one(
    env: dict[str, str], db_session: AsyncSession
) -> None:
    created = run_cli(
        "webhook",
        "create",
        "--url",
        "http://127.0.0.1:9/hook",
        "--event",
        "message.created",
        "--json",
        env=cli_env(**env, MESSENGER_WEBHOOK_ALLOW_PRIVATE="1"),
    )
    assert created.returncode == 0, created.stderr
    data = json.loads(created.stdout)
    assert set(data) == {"id", "secret"}
    assert data["secret"].startswith("whsec_")
    row = await _fresh_endpoint(db_session, data["id"])
    assert row.events == ["message.created"]
    refused = run_cli(
        "webhook", "create", "--url", "http://127.0.0.1:9/hook", "--json", env=cli_env(**env)
    )
    assert refused.returncode == 1
    assert "private" in refused.stderr


async def test_prune_forgets_old_finished_rows_only(
    db_session: AsyncSession, hook_settings: Settings
) -> None:
    from datetime import UTC, datetime, timedelta

    from messenger.db.models import OutboxStatus, WorkerHeartbeat
    from messenger.worker.periodic import prune

    old = datetime.now(UTC) - timedelta(days=30)
    for status in (OutboxStatus.DONE, OutboxStatus.PENDING):
        db_session.add(OutboxEntry(topic="mail.reply", payload={}, status=status, available_at=old))
    db_session.add(
        OutboxEntry(topic="mail.reply", payload={}, status=OutboxStatus.DONE, available_at=old)
    )
    db_session.add(WorkerHeartbeat(name="gone", started_at=old, beat_at=old))
    await db_session.commit()
    await db_session.execute(
        OutboxEntry.__table__.update().where(OutboxEntry.id < 3).values(updated_at=old)
    )
    await db_session.commit()
    await prune(db_session, hook_settings)
    await db_session.commit()
    left = list(await db_session.scalars(select(OutboxEntry.id).order_by(OutboxEntry.id)))
    assert len(left) == 2  # the old pending one and the recent finished one
    assert await db_session.scalar(select(WorkerHeartbeat.id)) is None
