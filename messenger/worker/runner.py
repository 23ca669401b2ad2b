"""The worker's loop: relay the outbox, deliver webhooks, send mail, run periodic functions,
beat its heart; stop gracefully.

Jobs live in PostgreSQL, not in a queue: every job here must survive a crash, a Redis
outage and a stopped worker, and webhook retries span more than 24 hours, so the durable
record is the outbox and the deliveries, claimed with ``FOR UPDATE SKIP LOCKED`` under a
lease (``locked_until``). With Redis (``messenger worker``), the claimed jobs are *run* on
SAQ (:mod:`messenger.worker.queue`: concurrency, per-job timeouts, graceful shutdown);
without it — the embedded mode, which runs this loop inside the app process because SAQ
needs Redis, and tests that drive :meth:`Worker.tick` — this loop runs them itself.

Graceful shutdown (SIGTERM, SIGINT): no new claim is made; the jobs in hand finish (each
delivery is bounded by its timeout); a job claimed but not finished goes back to the
queue when its lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import zlib
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select, text

from messenger.config import Settings
from messenger.db.models import WorkerHeartbeat
from messenger.realtime.publisher import Publisher
from messenger.realtime.transaction import transaction
from messenger.webhooks import delivery
from messenger.webhooks.delivery import Sessions
from messenger.worker.periodic import PERIODIC, Periodic
from messenger.worker.queue import DELIVER, RUN_JOB, SaqRunner
from messenger.worker.relay import relay, run_job

log = logging.getLogger("messenger.worker")

HEARTBEAT_SECONDS = 5.0


@dataclass
class WorkerState:
    """What ``/ready`` reports."""

    started_at: float = field(default_factory=time.time)
    last_tick_at: float = 0.0
    last_error: str | None = None
    jobs_done: int = 0
    deliveries_done: int = 0

    def ready(self, poll_seconds: float) -> bool:
        return time.time() - self.last_tick_at < max(30.0, poll_seconds * 5)


class Worker:
    def __init__(
        self,
        settings: Settings,
        sessions: Sessions,
        publisher: Publisher,
        *,
        name: str | None = None,
        periodic: Sequence[Periodic] = PERIODIC,
        dialect: str = "postgresql",
        use_saq: bool = False,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.publisher = publisher
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.periodic = list(periodic)
        self.dialect = dialect
        self.state = WorkerState()
        self._next_run: dict[str, float] = {}
        self._last_beat = 0.0
        self.stopping = asyncio.Event()
        #: With Redis, claimed jobs run on SAQ (:mod:`messenger.worker.queue`); without it
        #: (the embedded mode, tests driving :meth:`tick`), in this loop.
        self.use_saq = use_saq and settings.redis_url is not None
        self.saq: SaqRunner | None = None

    async def run(self) -> None:
        """Until :meth:`stop`: a tick, then a pause unless the tick found a full batch."""
        async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
            if self.use_saq:
                self.saq = SaqRunner(self.settings, self.sessions, client)
                await self.saq.start()
            try:
                await self._loop(client)
            finally:
                if self.saq is not None:
                    await self.saq.stop()  # the jobs in hand finish first
        log.info("worker %s stopped", self.name)

    async def _loop(self, client: httpx.AsyncClient) -> None:
        while not self.stopping.is_set():
            busy = False
            try:
                busy = await self.tick(client)
                self.state.last_error = None
            except Exception as exc:  # the database away: log, wait, try again
                self.state.last_error = type(exc).__name__
                log.warning("worker tick failed (%s)", type(exc).__name__, exc_info=True)
            self.state.last_tick_at = time.time()
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.stopping.wait(), timeout=self.settings.worker_poll_seconds
                )

    def stop(self) -> None:
        self.stopping.set()

    async def tick(self, client: httpx.AsyncClient) -> bool:
        """One round; True when there may be more work right away."""
        limit = self.settings.worker_concurrency
        if self.saq is not None:
            # Claim no more than SAQ can start soon: a claim's lease must outlast its wait.
            limit = max(limit - await self.saq.waiting(), 0)
            if limit == 0:
                return False
        async with self.sessions() as session:
            fanned_out, jobs = await relay(session, self.settings, limit * 4)
            await session.commit()
        async with self.sessions() as session:
            deliveries = await delivery.claim(session, limit, self.settings.worker_lease_seconds)
            await session.commit()
        if self.saq is not None:
            claim = time.time()
            for job_id in jobs:
                await self.saq.submit(RUN_JOB, job_id, claim)
            for delivery_id in deliveries:
                await self.saq.submit(DELIVER, delivery_id, claim)
            if not self.stopping.is_set():
                await self._periodic()
                await self._heartbeat()
            return bool(fanned_out)
        work: list[Coroutine[Any, Any, object]] = [
            run_job(self.sessions, job_id, self.settings) for job_id in jobs
        ]
        work += [delivery.deliver(self.sessions, client, d, self.settings) for d in deliveries]
        if work:
            # The batch in hand finishes even when a stop is asked for meanwhile.
            await asyncio.gather(*work, return_exceptions=True)
            self.state.jobs_done += len(jobs)
            self.state.deliveries_done += len(deliveries)
        if not self.stopping.is_set():
            await self._periodic()
            await self._heartbeat()
        return bool(fanned_out or len(deliveries) >= limit or jobs)

    async def _periodic(self) -> None:
        now = time.monotonic()
        for job in self.periodic:
            if self._next_run.get(job.name, 0.0) > now:
                continue
            self._next_run[job.name] = now + job.every_seconds
            try:
                async with transaction(self.sessions, self.publisher) as session:
                    if self.dialect == "postgresql":
                        key = zlib.crc32(job.name.encode())
                        mine = await session.scalar(
                            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}
                        )
                        if not mine:
                            continue  # another worker runs it right now
                    await job.function(session, self.settings)
            except Exception:
                log.exception("periodic function %s failed", job.name)

    async def _heartbeat(self) -> None:
        now = time.time()
        if now - self._last_beat < HEARTBEAT_SECONDS:
            return
        self._last_beat = now
        async with self.sessions() as session:
            beat = await session.scalar(
                select(WorkerHeartbeat).where(WorkerHeartbeat.name == self.name)
            )
            at = datetime.now(UTC)
            if beat is None:
                session.add(WorkerHeartbeat(name=self.name, beat_at=at, started_at=at))
            else:
                beat.beat_at = at
            await session.commit()
