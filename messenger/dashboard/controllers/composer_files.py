"""Files from the composer: an operator uploads a file to a conversation they may see; it is
sent with their next message (``attachment_ids`` of the composer form). The checks and the
storage are the visitor uploads' (:mod:`messenger.attachments.staff`)."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath, SkipValidation
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.formdata import ENVELOPE_BYTES
from messenger.attachments.staff import StaffUploads
from messenger.attachments.storage import Storage
from messenger.config import Settings
from messenger.conversations.service import ConversationService
from messenger.dashboard.deps import DashboardRequest
from messenger.db.models import User
from messenger.inboxes.settings import MAX_ATTACHMENT_BYTES


class Uploaded(msgspec.Struct):
    id: str
    filename: str
    content_type: str
    size: int


def declared_length(request: DashboardRequest) -> int | None:
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() and len(value) < 20 else None


class ComposerFilesController(Controller):
    @post(
        "/conversations/{conversation_id:uuid}/attachments",
        name="staff_upload",
        status_code=201,
        request_max_body_size=MAX_ATTACHMENT_BYTES + ENVELOPE_BYTES,
    )
    async def upload(
        self,
        request: DashboardRequest,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        storage: NamedDependency[SkipValidation[Storage]],
        settings: NamedDependency[SkipValidation[Settings]],
        conversation_id: FromPath[UUID],
    ) -> Uploaded:
        # Scope first (404 for an outsider), before a byte of the body is read.
        conversation = await ConversationService(session=db_session).get_for_staff(
            conversation_id, current_user
        )
        attachment = await StaffUploads(db_session, storage).receive(
            conversation,
            current_user,
            content_type=request.headers.get("content-type"),
            content_length=declared_length(request),
            body=request.stream(),
            quota=settings.upload_quota_bytes,  # per operator in 24 hours, as per visitor
        )
        return Uploaded(
            id=str(attachment.id),
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size_bytes,
        )
