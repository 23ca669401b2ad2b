"""Uploading, linking and reading attachments. Writes are flushed, never committed here."""

from __future__ import annotations

import hashlib
import mimetypes
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.files import looks_like_markup, safe_filename
from messenger.attachments.storage import Storage
from messenger.db.models import Attachment, Conversation, Inbox, Message
from messenger.errors import DomainError, InvalidInputError, NotFoundError
from messenger.i18n import N_
from messenger.inboxes.service import inbox_settings
from messenger.inboxes.settings import FORBIDDEN_CONTENT_TYPES


class PayloadTooLargeError(DomainError):
    status_code = 413
    code = "too_large"


class UnsupportedMediaError(DomainError):
    status_code = 415
    code = "unsupported_media_type"


class AttachmentService:
    def __init__(self, db: AsyncSession, storage: Storage) -> None:
        self.db = db
        self.storage = storage

    async def upload(
        self,
        inbox: Inbox,
        visitor_id: UUID,
        *,
        filename: str,
        content_type: str,
        data: bytes,
    ) -> Attachment:
        """Check the inbox's policy and the bytes, store them, add the row (flushed)."""
        policy = inbox_settings(inbox).attachments
        if not policy.enabled:
            raise UnsupportedMediaError(N_("This inbox does not accept attachments."))
        if len(data) > policy.max_bytes:
            raise PayloadTooLargeError(
                N_("The file is larger than %(bytes)d bytes."), params={"bytes": policy.max_bytes}
            )
        if not data:
            raise InvalidInputError(N_("The file is empty."))
        declared = (content_type or "").split(";")[0].strip().lower()
        guessed = (mimetypes.guess_type(filename)[0] or "").lower()
        for candidate in (declared, guessed):
            if candidate in FORBIDDEN_CONTENT_TYPES:
                raise UnsupportedMediaError(
                    N_("Files of type %(type)s are not accepted."), params={"type": candidate}
                )
        if declared not in policy.content_types:
            allowed = ", ".join(policy.content_types)
            raise UnsupportedMediaError(
                N_("Files of type %(type)s are not accepted; allowed: %(allowed)s."),
                params={"type": declared or "?", "allowed": allowed},
            )
        if looks_like_markup(data):
            raise UnsupportedMediaError(
                N_("The file looks like HTML, SVG or XML and is not accepted.")
            )
        key = await self.storage.save(data)
        attachment = Attachment(
            inbox_id=inbox.id,
            visitor_id=visitor_id,
            filename=safe_filename(filename),
            content_type=declared,
            size_bytes=len(data),
            storage_key=key,
            sha256=hashlib.sha256(data).hexdigest(),
        )
        self.db.add(attachment)
        try:
            await self.db.flush()
        except Exception:
            await self.storage.delete(key)  # nothing half-written
            raise
        return attachment

    async def link(
        self,
        inbox: Inbox,
        visitor_id: UUID,
        conversation: Conversation,
        message: Message,
        attachment_ids: list[str],
    ) -> list[Attachment]:
        """Attach the visitor's own, not yet sent uploads to ``message``; all or none."""
        try:
            ids = [UUID(value) for value in attachment_ids]
        except ValueError:
            raise InvalidInputError(N_("attachment_ids: not attachment ids.")) from None
        result = await self.db.execute(
            update(Attachment)
            .where(
                Attachment.id.in_(ids),
                Attachment.inbox_id == inbox.id,
                Attachment.visitor_id == visitor_id,
                Attachment.message_id.is_(None),
            )
            .values(message_id=message.id, conversation_id=conversation.id)
            .returning(Attachment)
            .execution_options(synchronize_session=False)
        )
        linked = list(result.scalars())
        if len(linked) != len(set(ids)):
            # The caller's transaction is rolled back by the error answer: nothing is linked.
            raise InvalidInputError(N_("An attachment is unknown, not yours, or already sent."))
        return sorted(linked, key=lambda a: a.created_at)

    async def get(self, attachment_id: UUID) -> Attachment:
        attachment = await self.db.get(Attachment, attachment_id)
        if attachment is None:
            raise NotFoundError(N_("No such attachment."))
        return attachment

    async def sent_in(self, attachment_id: UUID) -> tuple[Attachment, Conversation] | None:
        """The attachment and the conversation it was sent in (None if it was never sent)."""
        row = (
            await self.db.execute(
                select(Attachment, Conversation)
                .join(Conversation, Conversation.id == Attachment.conversation_id)
                .where(Attachment.id == attachment_id)
            )
        ).first()
        return (row[0], row[1]) if row is not None else None

    async def content(self, attachment: Attachment) -> bytes:
        return await self.storage.load(attachment.storage_key)
