"""Delivering webhooks: claim due deliveries, POST them signed, record what happened.

Each step is its own short transaction, so a worker that dies mid-delivery holds nothing
but a lease (``locked_until``): when it runs out, another worker (or the same one,
restarted) takes the delivery again, under the same ``webhook-id``. Several workers may run:
claims use ``FOR UPDATE SKIP LOCKED`` (SQLite, single-process, has no row locks and needs
none).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from messenger.config import Settings
from messenger.db.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from messenger.webhooks.service import now
from messenger.webhooks.ssrf import TargetRefused, host_header, pinned_url, resolve

log = logging.getLogger("messenger.webhooks")

Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]
USER_AGENT = "Messenger-Webhooks/1"


def webhook_id(delivery: WebhookDelivery) -> str:
    return f"msg_{delivery.event_id.hex}"


def encode_body(body: dict[str, object]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def signed_headers(secret: str, msg_id: str, at: datetime, payload: str) -> dict[str, str]:
    """The Standard Webhooks headers (the ``standardwebhooks`` package signs)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, payload),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def backoff(attempts: int, settings: Settings) -> float:
    """Seconds before the next attempt: doubling from the base, capped, with jitter
    (half fixed, half random) so that a receiver back from an outage is not hit at once."""
    delay = min(
        settings.webhook_backoff_seconds * 2 ** max(attempts - 1, 0),
        settings.webhook_backoff_max_seconds,
    )
    jittered: float = delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not a secret
    return jittered


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    code: int | None = None
    error: str | None = None


async def claim(session: AsyncSession, limit: int, lease_seconds: float) -> list[int]:
    """Take up to ``limit`` due deliveries of enabled endpoints for ``lease_seconds``."""
    at = now()
    ids = list(
        await session.scalars(
            select(WebhookDelivery.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= at,
                or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < at),
                WebhookEndpoint.enabled.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
    )
    if ids:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(locked_until=at + timedelta(seconds=lease_seconds))
        )
    return ids


async def post(
    client: httpx.AsyncClient,
    endpoint: WebhookEndpoint,
    delivery: WebhookDelivery,
    settings: Settings,
) -> Outcome:
    """One attempt: the SSRF guard (after DNS resolution), then a signed POST to the very
    address checked, no redirects followed; a 2xx within the timeout is delivered."""
    try:
        target = await resolve(endpoint.url, allow_private=settings.webhook_allow_private)
    except TargetRefused as exc:
        return Outcome(False, None, f"refused: {exc.message}")
    payload = encode_body(delivery.body)
    headers = signed_headers(endpoint.secret, webhook_id(delivery), now(), payload)
    headers["host"] = host_header(target)
    try:
        response = await client.post(
            pinned_url(target),
            content=payload.encode(),
            headers=headers,
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            extensions={"sni_hostname": target.host},
        )
    except httpx.TimeoutException:
        return Outcome(False, None, "timeout")
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}")
    code = response.status_code
    return Outcome(200 <= code < 300, code, None if 200 <= code < 300 else f"HTTP {code}")


async def deliver(
    sessions: Sessions, client: httpx.AsyncClient, delivery_id: int, settings: Settings
) -> Outcome | None:
    """Attempt one claimed delivery and record the outcome (None: nothing to do any more)."""
    async with sessions() as session:
        delivery = await session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return None
        endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
        if endpoint is None:
            return None
    outcome = await post(client, endpoint, delivery, settings)
    async with sessions() as session:
        await record(session, delivery_id, endpoint.id, outcome, settings)
        await session.commit()
    if not outcome.ok:
        log.info(
            "webhook delivery %s to endpoint %s failed (%s)",
            delivery_id,
            endpoint.id,
            outcome.error,
        )
    return outcome


async def record(
    session: AsyncSession,
    delivery_id: int,
    endpoint_id: int,
    outcome: Outcome,
    settings: Settings,
) -> None:
    delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
    endpoint = await session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
    if delivery is None or endpoint is None:
        return
    at = now()
    delivery.attempts += 1
    delivery.last_attempt_at = at
    delivery.response_code = outcome.code
    delivery.last_error = outcome.error
    delivery.locked_until = None
    if outcome.ok:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = at
        endpoint.failure_streak = 0
        return
    if (at - delivery.created_at).total_seconds() >= settings.webhook_retry_seconds:
        delivery.status = DeliveryStatus.FAILED
    else:
        delivery.next_attempt_at = at + timedelta(seconds=backoff(delivery.attempts, settings))
    endpoint.failure_streak += 1
    if endpoint.enabled and endpoint.failure_streak >= settings.webhook_disable_after:
        endpoint.enabled = False
        endpoint.disabled_at = at
        endpoint.disabled_reason = f"{endpoint.failure_streak} failed attempts in a row"
        log.warning("webhook endpoint %s disabled after a failure streak", endpoint.id)
