"""Admin: a visitor's data from the visitor panel — export (a zip: visitor.json and the
files) and erase (after a ticked confirmation). Both audited by the services."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import FromPath, SkipValidation, URLEncodedBody
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.storage import Storage
from messenger.dashboard.deps import DashboardRequest
from messenger.db.models import User
from messenger.i18n import gettext as _
from messenger.privacy.erase import erase_visitor
from messenger.privacy.export import attachment_files, export_visitor

CurrentUser = NamedDependency[User]
DB = NamedDependency[AsyncSession]


class EraseForm(msgspec.Struct):
    confirm: Annotated[str, msgspec.Meta(max_length=8)] = ""
    conversation_id: Annotated[str, msgspec.Meta(max_length=40)] = ""


class VisitorPrivacyController(Controller):
    path = "/visitors"

    @post("/{visitor_id:uuid}/export", name="admin_visitor_export", status_code=200)
    async def export(
        self,
        db_session: DB,
        storage: NamedDependency[SkipValidation[Storage]],
        current_user: CurrentUser,
        visitor_id: FromPath[UUID],
    ) -> Response[bytes]:
        document = await export_visitor(db_session, visitor_id)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("visitor.json", json.dumps(document, ensure_ascii=False, indent=2))
            async for relative, chunks in attachment_files(db_session, storage, visitor_id):
                archive.writestr(relative, b"".join([chunk async for chunk in chunks]))
        return Response(
            buffer.getvalue(),
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="visitor-{visitor_id}.zip"',
                "Cache-Control": "no-store",
            },
        )

    @post("/{visitor_id:uuid}/erase", name="admin_visitor_erase", status_code=303)
    async def erase(
        self,
        request: DashboardRequest,
        db_session: DB,
        storage: NamedDependency[SkipValidation[Storage]],
        current_user: CurrentUser,
        visitor_id: FromPath[UUID],
        data: URLEncodedBody[EraseForm],
    ) -> Redirect:
        if data.confirm != "yes":
            raise ValidationException(_("Tick the confirmation to erase the visitor's data."))
        await erase_visitor(db_session, storage, visitor_id)
        try:
            conversation_id = UUID(data.conversation_id)
        except ValueError:
            return Redirect(request.app.route_reverse("conversations"), status_code=303)
        return Redirect(
            request.app.route_reverse("conversation", conversation_id=conversation_id),
            status_code=303,
        )
