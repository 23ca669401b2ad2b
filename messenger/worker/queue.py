"""Jobs run on SAQ (when Redis is configured): timeouts, concurrency, graceful shutdown.

The durable record of every job is PostgreSQL (the outbox and the deliveries, claimed
under a lease, see :mod:`messenger.worker.runner`); SAQ runs what the claim loop took.
Each SAQ job's key names the claim (row and lease), so a claim is queued once, and a row
whose lease ran out — its worker died, or Redis lost the job — is claimed and queued again:
nothing is lost when Redis is; duplicates are possible, as at-least-once allows.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

import httpx
from saq import Worker as SaqWorker
from saq.queue.redis import RedisQueue

from messenger.config import Settings
from messenger.webhooks import delivery
from messenger.webhooks.delivery import Sessions
from messenger.worker.relay import run_job

log = logging.getLogger("messenger.worker")

DELIVER = "webhook.deliver"
RUN_JOB = "outbox.run"


class SaqRunner:
    def __init__(self, settings: Settings, sessions: Sessions, client: httpx.AsyncClient) -> None:
        assert settings.redis_url is not None
        self.settings = settings
        self.sessions = sessions
        self.client = client
        self.queue = RedisQueue.from_url(settings.redis_url, name=f"{settings.redis_prefix}-jobs")
        self.job_timeout = math.ceil(settings.webhook_timeout_seconds) + 20
        self.worker = SaqWorker(
            self.queue,
            functions=[(DELIVER, self._deliver), (RUN_JOB, self._run_job)],
            concurrency=settings.worker_concurrency,
            dequeue_timeout=1.0,
            timers={"sweep": 5, "worker_info": 5, "schedule": 1, "abort": 1},
            shutdown_grace_period_s=self.job_timeout,
        )
        # The process's signal handlers stop the whole worker (runner.Worker.stop), not SAQ alone.
        self.worker.SIGNALS = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.queue.connect()
        self._task = asyncio.create_task(self.worker.start())

    async def stop(self) -> None:
        """Let the jobs in hand finish (within their timeout), then disconnect."""
        await self.worker.stop()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self.queue.disconnect()

    async def waiting(self) -> int:
        return int(await self.queue.count("incomplete"))

    async def submit(self, function: str, row_id: int, claim: float) -> None:
        """Queue a claimed row once per claim (``claim``: when it was claimed)."""
        await self.queue.enqueue(
            function,
            key=f"{function}:{row_id}:{claim:.6f}",
            timeout=self.job_timeout,
            retries=1,
            ttl=600,
            row_id=row_id,
        )

    async def _deliver(self, _ctx: Any, *, row_id: int) -> None:
        await delivery.deliver(self.sessions, self.client, row_id, self.settings)

    async def _run_job(self, _ctx: Any, *, row_id: int) -> None:
        await run_job(self.sessions, row_id, self.settings)
