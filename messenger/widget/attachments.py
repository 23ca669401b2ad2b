"""Widget API attachments: upload from the widget, download through signed short links."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from messenger.attachments.files import download_headers, served_media_type
from messenger.attachments.formdata import ENVELOPE_BYTES
from messenger.i18n import N_
from messenger.inboxes.settings import MAX_ATTACHMENT_BYTES
from messenger.widget import schemas
from messenger.widget.deps import (
    SESSION_ERRORS,
    AnyRequest,
    InboxesDep,
    LinksDep,
    Service,
    SettingsDep,
    ThrottleDep,
    VisitsDep,
    caller_of,
    errors,
    provide_service,
)
from messenger.widget.security import check_origin

#: Litestar's own ceiling on the stream; each inbox's (smaller) cap is applied while reading.
UPLOAD_BODY_LIMIT = MAX_ATTACHMENT_BYTES + ENVELOPE_BYTES


@dataclass
class UploadOperation(Operation):
    """The upload's body in the schema: the handler reads the stream itself, so Litestar
    cannot infer it from a ``data`` parameter."""

    def __post_init__(self) -> None:
        file = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
        form = Schema(type=OpenAPIType.OBJECT, properties={"file": file}, required=["file"])
        self.request_body = RequestBody(
            content={"multipart/form-data": OpenAPIMediaType(schema=form)}, required=True
        )


def declared_length(request: AnyRequest) -> int | None:
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() and len(value) < 20 else None


class WidgetAttachmentController(Controller):
    path = "/api/widget/attachments"
    tags = ["widget"]
    dependencies = {
        "service": Provide(provide_service, sync_to_thread=False),
    }
    security = [{"session": []}]

    @post(
        "/",
        summary="Upload a file (multipart field `file`) when the inbox allows attachments",
        request_max_body_size=UPLOAD_BODY_LIMIT,
        operation_class=UploadOperation,
        status_code=201,
        responses=errors(*SESSION_ERRORS, 413, 415),
    )
    async def upload(
        self,
        request: AnyRequest,
        settings: SettingsDep,
        service: Service,
        throttle: ThrottleDep,
        visits: VisitsDep,
    ) -> schemas.UploadResponse:
        # The body is not read before this point: the session and origin (``visit``), the
        # throttle, the inbox's policy, the declared length and the quota come first; then
        # the file streams to storage with a hard cap (``AttachmentService.receive``).
        visit = await visits.check(request, throttle.upload)
        attachment = await service.attachments.receive(
            visit.inbox,
            visit.session.visitor_id,
            content_type=request.headers.get("content-type"),
            content_length=declared_length(request),
            body=request.stream(),
            quota=settings.upload_quota_bytes,
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
        inboxes: InboxesDep,
        attachment_id: FromPath[UUID],
        exp: Annotated[int, QueryParameter(ge=0)],
        sig: Annotated[str, QueryParameter(max_length=64)],
    ) -> Stream:
        caller = caller_of(request, settings)
        inboxes.observe(await throttle.download(caller.ip))
        if not links.verify(attachment_id, exp, sig):
            raise NotFoundException(N_("This link has expired or is not valid."))
        attachment = await service.attachments.get(attachment_id)
        cached = await inboxes.by_id(attachment.inbox_id)
        if cached is None:
            raise NotFoundException(N_("This chat no longer exists."))
        check_origin(request, cached.inbox, caller.ip, cached.allowed_domains)
        return Stream(
            service.attachments.content(attachment),
            media_type=served_media_type(attachment.content_type),
            headers={
                **download_headers(attachment.filename, cross_origin=True),
                "Content-Length": str(attachment.size_bytes),
            },
        )
