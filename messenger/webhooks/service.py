"""Webhook endpoints: registration, the delivery log, "send again", a test event.

Admins manage endpoints (the admin page, ``messenger webhook create``); nothing here knows
HTTP. The worker delivers (:mod:`messenger.webhooks.delivery`).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db import audit
from messenger.db.models import (
    DeliveryStatus,
    Inbox,
    WebhookDelivery,
    WebhookEndpoint,
)
from messenger.db.outbox import EVENT_TYPES
from messenger.errors import InvalidInputError, NotFoundError
from messenger.i18n import N_
from messenger.webhooks.ssrf import resolve

#: A test event's type: sent whatever the endpoint's event list says.
TEST_EVENT = "webhook.test"
#: How many deliveries the log shows.
LOG_SIZE = 50


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def now() -> datetime:
    return datetime.now(UTC)


def event_body(event_type: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": event_type, "timestamp": at.isoformat(), "data": data}


def wants(endpoint: WebhookEndpoint, event_type: str, inbox_id: int | None) -> bool:
    """Whether ``endpoint`` is to be told of this event."""
    if endpoint.events and event_type not in endpoint.events:
        return False
    return endpoint.inbox_id is None or endpoint.inbox_id == inbox_id


def audited_url(url: str) -> str:
    """The URL without credentials or query (either may carry a secret)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class WebhookService:
    def __init__(self, session: AsyncSession, *, allow_private: bool) -> None:
        self.session = session
        self.allow_private = allow_private

    async def create(
        self,
        url: str,
        events: Sequence[str] = (),
        inbox_id: int | None = None,
        description: str | None = None,
    ) -> WebhookEndpoint:
        """A new endpoint with a fresh secret. The URL must resolve to public addresses."""
        url = url.strip()
        await resolve(url, allow_private=self.allow_private)
        chosen = sorted({e.strip() for e in events if e.strip()})
        unknown = [e for e in chosen if e not in EVENT_TYPES]
        if unknown:
            raise InvalidInputError(
                N_("Unknown webhook event %(event)s; known: %(known)s."),
                params={"event": unknown[0], "known": ", ".join(EVENT_TYPES)},
            )
        if inbox_id is not None and await self.session.get(Inbox, inbox_id) is None:
            raise InvalidInputError(N_("No inbox %(id)s."), params={"id": inbox_id})
        endpoint = WebhookEndpoint(
            url=url,
            secret=new_secret(),
            events=chosen,
            inbox_id=inbox_id,
            description=(description or "").strip()[:200] or None,
            enabled=True,
            failure_streak=0,
        )
        self.session.add(endpoint)
        await self.session.flush()
        audit.record(
            self.session,
            "webhook.create",
            f"webhook:{endpoint.id}",
            {"url": audited_url(url), "events": chosen, "inbox_id": inbox_id},
        )
        return endpoint

    async def all(self) -> list[WebhookEndpoint]:
        rows = await self.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))
        return list(rows)

    async def get(self, endpoint_id: int) -> WebhookEndpoint:
        endpoint = await self.session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None:
            raise NotFoundError(N_("No such webhook endpoint."))
        return endpoint

    async def disabled(self) -> list[WebhookEndpoint]:
        """Endpoints the worker switched off after a failure streak (admins get a notice)."""
        rows = await self.session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.disabled_at.is_not(None))
        )
        return list(rows)

    async def set_enabled(self, endpoint_id: int, enabled: bool) -> WebhookEndpoint:
        endpoint = await self.get(endpoint_id)
        audit.record(
            self.session,
            "webhook.update",
            f"webhook:{endpoint.id}",
            {"before": {"enabled": endpoint.enabled}, "after": {"enabled": enabled}},
        )
        endpoint.enabled = enabled
        if enabled:
            endpoint.failure_streak = 0
            endpoint.disabled_at = None
            endpoint.disabled_reason = None
        await self.session.flush()
        return endpoint

    async def delete(self, endpoint_id: int) -> None:
        endpoint = await self.get(endpoint_id)
        audit.record(
            self.session,
            "webhook.delete",
            f"webhook:{endpoint.id}",
            {"url": audited_url(endpoint.url)},
        )
        await self.session.delete(endpoint)
        await self.session.flush()

    async def log(self, endpoint_id: int, limit: int = LOG_SIZE) -> list[WebhookDelivery]:
        rows = await self.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
        return list(rows)

    async def counts(self, endpoint_id: int) -> dict[str, int]:
        rows = await self.session.execute(
            select(WebhookDelivery.status, func.count())
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .group_by(WebhookDelivery.status)
        )
        return {status.value: count for status, count in rows.tuples()}

    async def send_again(self, endpoint_id: int, delivery_id: int) -> WebhookDelivery:
        """The same event (same ``webhook-id`` and body) once more, from now on."""
        delivery = await self.session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.endpoint_id != endpoint_id:
            raise NotFoundError(N_("No such webhook delivery."))
        again = WebhookDelivery(
            endpoint_id=endpoint_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            body=delivery.body,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now(),
        )
        self.session.add(again)
        await self.session.flush()
        return again

    async def send_test(self, endpoint_id: int) -> WebhookDelivery:
        endpoint = await self.get(endpoint_id)
        at = now()
        delivery = WebhookDelivery(
            endpoint_id=endpoint.id,
            event_id=uuid4(),
            event_type=TEST_EVENT,
            body=event_body(TEST_EVENT, at, {"endpoint_id": endpoint.id, "test": True}),
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=at,
        )
        self.session.add(delivery)
        await self.session.flush()
        return delivery
