"""Widget API attachments: upload from the widget, download through signed short links."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, MultipartBody, QueryParameter

from messenger.attachments.files import download_headers, served_media_type
from messenger.i18n import N_
from messenger.widget import schemas
from messenger.widget.deps import (
    SESSION_ERRORS,
    AnyRequest,
    LinksDep,
    Service,
    SettingsDep,
    ThrottleDep,
    VisitDep,
    caller_of,
    errors,
    provide_service,
    provide_visit,
)
from messenger.widget.security import check_origin

UPLOAD_BODY_LIMIT = 101 * 1024 * 1024


class WidgetAttachmentController(Controller):
    path = "/api/widget/attachments"
    tags = ["widget"]
    dependencies = {
        "service": Provide(provide_service, sync_to_thread=False),
        "visit": Provide(provide_visit),
    }
    security = [{"session": []}]

    @post(
        "/",
        summary="Upload a file (multipart field `file`) when the inbox allows attachments",
        request_max_body_size=UPLOAD_BODY_LIMIT,
        status_code=201,
        responses=errors(*SESSION_ERRORS, 413, 415),
    )
    async def upload(
        self,
        service: Service,
        throttle: ThrottleDep,
        visit: VisitDep,
        data: MultipartBody[UploadFile],
    ) -> schemas.UploadResponse:
        await throttle.upload(visit.caller.ip, str(visit.session.visitor_id))
        content = await data.read()
        attachment = await service.attachments.upload(
            visit.inbox,
            visit.session.visitor_id,
            filename=data.filename or "file",
            content_type=data.content_type,
            data=content,
        )
        return schemas.UploadResponse(
            id=str(attachment.id),
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size_bytes,
        )

    @get(
        "/{attachment_id:uuid}",
        summary="Download an attachment (signed, short-lived link; always as a download)",
        security=[],
        media_type="application/octet-stream",
        responses=errors(403, 429),
    )
    async def download(
        self,
        request: AnyRequest,
        settings: SettingsDep,
        links: LinksDep,
        service: Service,
        throttle: ThrottleDep,
        attachment_id: FromPath[UUID],
        exp: Annotated[int, QueryParameter(ge=0)],
        sig: Annotated[str, QueryParameter(max_length=64)],
    ) -> Response[bytes]:
        await throttle.download(caller_of(request, settings).ip)
        if not links.verify(attachment_id, exp, sig):
            raise NotFoundException(N_("This link has expired or is not valid."))
        attachment = await service.attachments.get(attachment_id)
        inbox = await service.inbox_by_id(attachment.inbox_id)
        if inbox is None:
            raise NotFoundException(N_("This chat no longer exists."))
        check_origin(request, inbox, caller_of(request, settings).ip)
        return Response(
            await service.attachments.content(attachment),
            media_type=served_media_type(attachment.content_type),
            headers=download_headers(attachment.filename, cross_origin=True),
        )
