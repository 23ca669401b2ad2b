"""The real ``messenger worker`` process: killed mid-delivery and restarted, nothing lost;
graceful stop on SIGTERM; its /ready."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import DeliveryStatus, WebhookDelivery
from messenger.webhooks.service import WebhookService
from tests.support.desk import OperatorDesk
from tests.support.env import ROOT, cli_env
from tests.support.factories import make_branch, make_conversation, make_inbox, make_user
from tests.support.receiver import Receiver
from tests.support.servers import free_port
from tests.support.waiting import eventually


class WorkerProcess:
    def __init__(self, env: dict[str, str]) -> None:
        self.health_port = free_port()
        self.env = {**env, "MESSENGER_WORKER_HEALTH_PORT": str(self.health_port)}
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"worker-{self.health_port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "messenger", "worker", "--health-host", "127.0.0.1"],
            env=cli_env(**self.env),
            cwd=ROOT,
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        return self

    def ready(self) -> dict[str, object] | None:
        try:
            url = f"http://127.0.0.1:{self.health_port}/ready"
            with urllib.request.urlopen(url, timeout=1) as response:
                return json.loads(response.read()) if response.status == 200 else None
        except OSError:
            return None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def workers(env: dict[str, str]) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


WORKER_ENV = {
    "MESSENGER_WEBHOOK_ALLOW_PRIVATE": "1",
    "MESSENGER_WEBHOOK_BACKOFF_SECONDS": "0.2",
    "MESSENGER_WEBHOOK_BACKOFF_MAX_SECONDS": "0.5",
    "MESSENGER_WEBHOOK_TIMEOUT_SECONDS": "8",
    "MESSENGER_WORKER_POLL_SECONDS": "0.1",
    "MESSENGER_WORKER_LEASE_SECONDS": "2",
}


async def test_a_worker_killed_mid_delivery_loses_nothing_once_restarted(
    env: dict[str, str],
    db_session: AsyncSession,
    desk: OperatorDesk,
    workers: list[WorkerProcess],
) -> None:
    receiver = Receiver().start()
    try:
        receiver.hold_seconds = 4  # the worker is killed while this request is in flight
        branch = await make_branch(db_session)
        operator = await make_user(db_session, [branch])
        inbox = await make_inbox(db_session, branch=branch)
        conversation = await make_conversation(db_session, inbox, branch.id)
        endpoint = await WebhookService(db_session, allow_private=True).create(
            receiver.url, events=["message.created"]
        )
        await db_session.commit()
        await desk.reply(conversation.id, operator.id, "must not be lost")

        first = WorkerProcess({**env, **WORKER_ENV}).start()
        workers.append(first)

        async def in_flight() -> bool:
            return len(receiver.started) >= 1

        await eventually(in_flight, within=30)
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
        receiver.hold_seconds = 0

        second = WorkerProcess({**env, **WORKER_ENV}).start()
        workers.append(second)

        async def delivered() -> WebhookDelivery | None:
            await db_session.commit()
            row = await db_session.scalar(select(WebhookDelivery))
            return row if row is not None and row.status == DeliveryStatus.DELIVERED else None

        row = await eventually(delivered, within=30)
        assert row.endpoint_id == endpoint.id
        assert len(receiver.started) >= 2  # the killed attempt, then the one that succeeded
        assert {h["webhook-id"] for h in receiver.started} == {f"msg_{row.event_id.hex}"}
        bodies = {json.loads(r.body)["data"]["message"]["body"] for r in receiver.received}
        assert bodies == {"must not be lost"}

        # Its /ready answers while it runs; SIGTERM stops it cleanly.
        async def ready() -> dict[str, object] | None:
            return second.ready()

        state = await eventually(ready, within=15)
        assert state["status"] == "ready"
        assert second.process is not None
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(timeout=20) == 0
    finally:
        receiver.stop()
