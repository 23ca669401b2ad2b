"""Functions the worker runs on an interval (snoozes waking up, operators going offline,
clean-ups). Registering one is one line in :data:`PERIODIC`.

A periodic function takes ``(session, settings)`` and runs in a unit of work the worker
opens for it (:func:`messenger.realtime.transaction.transaction`): it writes through the
services as a request would (recording domain events, never committing), and the worker
commits, then publishes to live screens — and the webhook events are in the outbox of the
same commit. On PostgreSQL one worker at a time runs a given function (an advisory lock),
however many workers there are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db.models import (
    DeliveryStatus,
    OutboxEntry,
    OutboxStatus,
    WebhookDelivery,
    WorkerHeartbeat,
)
from messenger.worker.privacy_jobs import (
    AUDIT_PRUNE_EVERY_SECONDS,
    RETENTION_EVERY_SECONDS,
    audit_prune,
    retention,
)

PeriodicFunction = Callable[[AsyncSession, Settings], Awaitable[object]]

#: How long finished outbox entries and deliveries are kept (the delivery log shows them).
KEEP_DAYS = 14


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str
    function: PeriodicFunction
    every_seconds: float


async def prune(session: AsyncSession, settings: Settings) -> int:
    """Forget finished outbox entries and deliveries older than :data:`KEEP_DAYS`, and the
    heartbeats of workers gone for a day."""
    cutoff = datetime.now(UTC) - timedelta(days=KEEP_DAYS)
    outbox = await session.execute(
        delete(OutboxEntry).where(
            OutboxEntry.status != OutboxStatus.PENDING, OutboxEntry.updated_at < cutoff
        )
    )
    deliveries = await session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.status != DeliveryStatus.PENDING, WebhookDelivery.updated_at < cutoff
        )
    )
    await session.execute(
        delete(WorkerHeartbeat).where(
            WorkerHeartbeat.beat_at < datetime.now(UTC) - timedelta(days=1)
        )
    )
    return int(getattr(outbox, "rowcount", 0) or 0) + int(getattr(deliveries, "rowcount", 0) or 0)


#: Every periodic function of the worker. Add yours here, e.g.
#: ``Periodic("snoozes.wake", wake_snoozed, every_seconds=30),``
PERIODIC: list[Periodic] = [
    Periodic("outbox.prune", prune, every_seconds=3600),
    Periodic("retention.run", retention, every_seconds=RETENTION_EVERY_SECONDS),
    Periodic("audit.prune", audit_prune, every_seconds=AUDIT_PRUNE_EVERY_SECONDS),
]
