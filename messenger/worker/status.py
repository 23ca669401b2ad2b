"""The worker's items of ``messenger check``: is a worker alive, is the outbox moving,
which webhook endpoints were switched off, is e-mail configured whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import CheckResult, Settings
from messenger.db.models import (
    DeliveryStatus,
    OutboxEntry,
    OutboxStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WorkerHeartbeat,
)
from messenger.i18n import gettext as _

#: A heartbeat older than this: the worker is gone.
ALIVE_SECONDS = 60
#: Jobs due for longer than this: the workers do not keep up (or none runs).
LATE_SECONDS = 300


async def check_worker(session: AsyncSession, settings: Settings) -> list[CheckResult]:
    now = datetime.now(UTC)
    results = [await _alive(session, settings, now), await _backlog(session, now)]
    disabled = list(
        await session.scalars(
            select(WebhookEndpoint.id).where(WebhookEndpoint.disabled_at.is_not(None))
        )
    )
    if disabled:
        results.append(
            CheckResult(
                "webhook_endpoints",
                "warn",
                _("Webhook endpoints switched off after failing: %(ids)s.")
                % {"ids": ", ".join(map(str, disabled))},
            )
        )
    results.append(_mail(settings))
    return results


async def _alive(session: AsyncSession, settings: Settings, now: datetime) -> CheckResult:
    if settings.embedded:
        return CheckResult("worker", "pass", _("The job worker runs inside the app (embedded)."))
    latest = await session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
    if latest is not None and now - latest < timedelta(seconds=ALIVE_SECONDS):
        alive = await session.scalar(
            select(func.count()).where(
                WorkerHeartbeat.beat_at > now - timedelta(seconds=ALIVE_SECONDS)
            )
        )
        return CheckResult(
            "worker", "pass", _("Job workers alive: %(count)s.") % {"count": alive or 0}
        )
    return CheckResult(
        "worker",
        "warn",
        _("No job worker has reported in the last minute: start 'messenger worker'."),
    )


async def _backlog(session: AsyncSession, now: datetime) -> CheckResult:
    late = now - timedelta(seconds=LATE_SECONDS)
    waiting = await session.scalar(
        select(func.count()).where(
            OutboxEntry.status == OutboxStatus.PENDING, OutboxEntry.available_at < late
        )
    )
    undelivered = await session.scalar(
        select(func.count()).where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at < late,
        )
    )
    failed = (
        await session.scalar(
            select(func.count()).where(
                WebhookDelivery.status == DeliveryStatus.FAILED,
                WebhookDelivery.updated_at > now - timedelta(days=1),
            )
        )
        or 0
    )
    failed += (
        await session.scalar(
            select(func.count()).where(
                OutboxEntry.status == OutboxStatus.FAILED,
                OutboxEntry.updated_at > now - timedelta(days=1),
            )
        )
        or 0
    )
    if waiting or undelivered or failed:
        return CheckResult(
            "outbox",
            "warn",
            _("Jobs overdue by more than 5 minutes: %(late)s; failed in the last day: %(failed)s.")
            % {"late": (waiting or 0) + (undelivered or 0), "failed": failed},
        )
    return CheckResult("outbox", "pass", _("No job is overdue or failed."))


def _mail(settings: Settings) -> CheckResult:
    if settings.smtp_url is None and settings.mail_from is None:
        return CheckResult("mail", "warn", _("E-mail is off (MESSENGER_SMTP_URL is not set)."))
    if not settings.mail_enabled:
        return CheckResult(
            "mail", "fail", _("Set both MESSENGER_SMTP_URL and MESSENGER_MAIL_FROM.")
        )
    return CheckResult("mail", "pass", _("E-mail to visitors is on."))
