"""Admin: conversation labels — the list, a new label, rename or recolour, delete."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.labels import (
    all_labels,
    create_label,
    delete_label,
    require_label,
    update_label,
)
from messenger.dashboard.deps import DashboardRequest
from messenger.db.models import User
from messenger.errors import DomainError

CurrentUser = NamedDependency[User]
DB = NamedDependency[AsyncSession]
Short = Annotated[str, msgspec.Meta(max_length=200)]


class LabelAdminForm(msgspec.Struct):
    name_ru: Short = ""
    name_en: Short = ""
    color: Short = "#64748b"
    delete: Short = ""


class LabelsController(Controller):
    path = "/labels"

    async def _page(
        self, db: AsyncSession, user: User, error: str | None = None, status_code: int = 200
    ) -> Template:
        return Template(
            "admin/labels.html",
            context={"user": user, "labels": await all_labels(db), "error": error},
            status_code=status_code,
        )

    @get("/", name="admin_labels")
    async def labels(self, db_session: DB, current_user: CurrentUser) -> Template:
        return await self._page(db_session, current_user)

    @post("/", name="admin_label_create", status_code=303)
    async def create(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        data: URLEncodedBody[LabelAdminForm],
    ) -> Redirect | Template:
        try:
            await create_label(db_session, data.name_ru, data.name_en, data.color)
        except DomainError as exc:
            return await self._page(db_session, current_user, exc.translated(), 400)
        return Redirect(request.app.route_reverse("admin_labels"), status_code=303)

    @post("/{label_id:int}", name="admin_label_save", status_code=303)
    async def save(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        label_id: FromPath[int],
        data: URLEncodedBody[LabelAdminForm],
    ) -> Redirect | Template:
        await require_label(db_session, label_id)  # an unknown one is a 404
        try:
            if data.delete:
                await delete_label(db_session, label_id)
            else:
                await update_label(db_session, label_id, data.name_ru, data.name_en, data.color)
        except DomainError as exc:
            return await self._page(db_session, current_user, exc.translated(), 400)
        return Redirect(request.app.route_reverse("admin_labels"), status_code=303)
