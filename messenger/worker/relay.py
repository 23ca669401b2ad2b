"""The outbox, carried out: events fanned out to webhook deliveries (and mail jobs), mail
jobs sent. Several workers may run: entries are claimed with ``FOR UPDATE SKIP LOCKED``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db.models import (
    DeliveryStatus,
    Inbox,
    OutboxEntry,
    OutboxStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from messenger.db.outbox import EVENT_TYPES
from messenger.inboxes.service import inbox_settings
from messenger.mail import jobs as mail_jobs
from messenger.mail.smtp import SmtpServer
from messenger.webhooks.delivery import Sessions, backoff
from messenger.webhooks.payloads import event_data
from messenger.webhooks.service import event_body, wants

log = logging.getLogger("messenger.worker")


def _now() -> datetime:
    return datetime.now(UTC)


async def relay(session: AsyncSession, settings: Settings, limit: int) -> tuple[int, list[int]]:
    """Fan out the due events; lease the due jobs. Returns (events fanned out, job ids)."""
    at = _now()
    entries = list(
        await session.scalars(
            select(OutboxEntry)
            .where(
                OutboxEntry.status == OutboxStatus.PENDING,
                OutboxEntry.available_at <= at,
                or_(OutboxEntry.locked_until.is_(None), OutboxEntry.locked_until < at),
            )
            .order_by(OutboxEntry.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not entries:
        return 0, []
    endpoints = list(
        await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True)))
    )
    events, jobs = 0, []
    for entry in entries:
        if entry.topic in EVENT_TYPES:
            await _fan_out(session, entry, endpoints, settings)
            entry.status = OutboxStatus.DONE
            events += 1
        else:
            entry.locked_until = at + timedelta(seconds=settings.worker_lease_seconds)
            jobs.append(entry.id)
    return events, jobs


async def _fan_out(
    session: AsyncSession, entry: OutboxEntry, endpoints: list[WebhookEndpoint], settings: Settings
) -> None:
    composed = await event_data(session, entry)
    if composed is None:
        return
    data, conversation = composed
    inbox_id = entry.inbox_id or (conversation.inbox_id if conversation is not None else None)
    body = event_body(entry.topic, entry.created_at, data)
    for endpoint in endpoints:
        if wants(endpoint, entry.topic, inbox_id):
            session.add(
                WebhookDelivery(
                    endpoint_id=endpoint.id,
                    event_id=entry.event_id,
                    event_type=entry.topic,
                    body=body,
                    status=DeliveryStatus.PENDING,
                    attempts=0,
                    next_attempt_at=entry.created_at,
                )
            )
    if conversation is not None and settings.mail_enabled:
        on_resolve = False
        if entry.topic == "conversation.status_changed":
            inbox = await session.get(Inbox, conversation.inbox_id)
            on_resolve = inbox is not None and inbox_settings(inbox).mail.transcript_on_resolve
        message = data.get("message") or {}
        mail_jobs.schedule(
            session,
            entry.topic,
            dict(entry.payload),
            conversation,
            settings,
            sender=message.get("sender"),
            transcript_on_resolve=on_resolve,
        )


async def run_job(sessions: Sessions, job_id: int, settings: Settings) -> bool | None:
    """Carry out one leased job; True done, False to retry or failed, None nothing to do."""
    async with sessions() as session:
        job = await session.get(OutboxEntry, job_id)
        if job is None or job.status != OutboxStatus.PENDING:
            return None
        error = None
        try:
            mail = await mail_jobs.compose(session, job, settings)
        except Exception as exc:  # retried with back-off like a refused send, then failed
            log.exception("composing outbox job %s failed", job_id)
            mail, error = None, f"compose: {type(exc).__name__}"
    if mail is not None and settings.smtp_url is not None:
        try:
            await SmtpServer.from_url(settings.smtp_url).send(mail)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
    async with sessions() as session:
        job = await session.get(OutboxEntry, job_id, with_for_update=True)
        if job is None:
            return None
        at = _now()
        job.attempts += 1
        job.locked_until = None
        job.last_error = error
        if error is None:
            job.status = OutboxStatus.DONE
        elif (at - job.created_at).total_seconds() >= settings.webhook_retry_seconds:
            job.status = OutboxStatus.FAILED
        else:
            job.available_at = at + timedelta(seconds=backoff(job.attempts, settings))
        await session.commit()
    if error is not None:
        log.warning("outbox job %s (%s) failed: %s", job_id, job.topic, error)
    return error is None
