"""Admin: webhook endpoints — register, the delivery log, send again, a test event,
switch on and off, delete. A notice names the endpoints the worker switched off."""

from __future__ import annotations

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, SkipValidation, URLEncodedBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.dashboard.deps import DashboardRequest
from messenger.db.models import User
from messenger.db.outbox import EVENT_TYPES
from messenger.errors import DomainError
from messenger.inboxes.service import InboxService
from messenger.webhooks.service import WebhookService

CurrentUser = NamedDependency[User]
DB = NamedDependency[AsyncSession]
AppSettings = NamedDependency[SkipValidation[Settings]]


class WebhookCreateForm(msgspec.Struct):
    url: str = ""
    # One checkbox ticked arrives as a string, several as a list.
    events: str | list[str] = msgspec.field(default_factory=list)
    inbox_id: str = ""
    description: str = ""

    def event_list(self) -> list[str]:
        return [self.events] if isinstance(self.events, str) else list(self.events)


class WebhookToggleForm(msgspec.Struct):
    enabled: str = ""


def _service(db: AsyncSession, settings: Settings) -> WebhookService:
    return WebhookService(db, allow_private=settings.webhook_allow_private)


class WebhooksController(Controller):
    path = "/webhooks"

    async def _list(
        self,
        db: AsyncSession,
        settings: Settings,
        user: User,
        error: str | None = None,
        status_code: int = 200,
    ) -> Template:
        service = _service(db, settings)
        return Template(
            "admin/webhooks.html",
            context={
                "user": user,
                "endpoints": await service.all(),
                "disabled": await service.disabled(),
                "inboxes": await InboxService(session=db).ordered(),
                "event_types": EVENT_TYPES,
                "error": error,
            },
            status_code=status_code,
        )

    @get("/", name="admin_webhooks")
    async def endpoints(
        self, db_session: DB, settings: AppSettings, current_user: CurrentUser
    ) -> Template:
        return await self._list(db_session, settings, current_user)

    @post("/", name="admin_webhook_create", status_code=303)
    async def create(
        self,
        request: DashboardRequest,
        db_session: DB,
        settings: AppSettings,
        current_user: CurrentUser,
        data: URLEncodedBody[WebhookCreateForm],
    ) -> Redirect | Template:
        try:
            inbox_id = int(data.inbox_id) if data.inbox_id.strip() else None
        except ValueError:
            inbox_id = -1  # no such inbox: the service says so
        try:
            endpoint = await _service(db_session, settings).create(
                data.url, data.event_list(), inbox_id, data.description
            )
        except DomainError as exc:
            return await self._list(db_session, settings, current_user, exc.translated(), 400)
        return Redirect(
            request.app.route_reverse("admin_webhook", endpoint_id=endpoint.id), status_code=303
        )

    @get("/{endpoint_id:int}", name="admin_webhook")
    async def endpoint(
        self,
        db_session: DB,
        settings: AppSettings,
        current_user: CurrentUser,
        endpoint_id: FromPath[int],
    ) -> Template:
        service = _service(db_session, settings)
        endpoint = await service.get(endpoint_id)
        return Template(
            "admin/webhook.html",
            context={
                "user": current_user,
                "endpoint": endpoint,
                "deliveries": await service.log(endpoint.id),
                "counts": await service.counts(endpoint.id),
                "event_types": EVENT_TYPES,
            },
        )

    def _back(self, request: DashboardRequest, endpoint_id: int) -> Redirect:
        return Redirect(
            request.app.route_reverse("admin_webhook", endpoint_id=endpoint_id), status_code=303
        )

    @post("/{endpoint_id:int}/enabled", name="admin_webhook_enabled", status_code=303)
    async def set_enabled(
        self,
        request: DashboardRequest,
        db_session: DB,
        settings: AppSettings,
        endpoint_id: FromPath[int],
        data: URLEncodedBody[WebhookToggleForm],
    ) -> Redirect:
        await _service(db_session, settings).set_enabled(endpoint_id, bool(data.enabled))
        return self._back(request, endpoint_id)

    @post("/{endpoint_id:int}/test", name="admin_webhook_test", status_code=303)
    async def send_test(
        self,
        request: DashboardRequest,
        db_session: DB,
        settings: AppSettings,
        endpoint_id: FromPath[int],
    ) -> Redirect:
        await _service(db_session, settings).send_test(endpoint_id)
        return self._back(request, endpoint_id)

    @post(
        "/{endpoint_id:int}/deliveries/{delivery_id:int}/again",
        name="admin_webhook_again",
        status_code=303,
    )
    async def send_again(
        self,
        request: DashboardRequest,
        db_session: DB,
        settings: AppSettings,
        endpoint_id: FromPath[int],
        delivery_id: FromPath[int],
    ) -> Redirect:
        await _service(db_session, settings).send_again(endpoint_id, delivery_id)
        return self._back(request, endpoint_id)

    @post("/{endpoint_id:int}/delete", name="admin_webhook_delete", status_code=303)
    async def delete(
        self,
        request: DashboardRequest,
        db_session: DB,
        settings: AppSettings,
        endpoint_id: FromPath[int],
    ) -> Redirect:
        await _service(db_session, settings).delete(endpoint_id)
        return Redirect(request.app.route_reverse("admin_webhooks"), status_code=303)
