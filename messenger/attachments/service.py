"""Uploading, linking and reading attachments. Writes are flushed, never committed here."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from messenger.attachments.files import looks_like_markup, safe_filename
from messenger.attachments.formdata import (
    ENVELOPE_BYTES,
    UnsupportedMediaError,
    file_part,
    too_large,
)
from messenger.attachments.storage import Storage, TooLargeError
from messenger.db.models import Attachment, Conversation, Inbox, Message
from messenger.errors import DomainError, InvalidInputError, NotFoundError
from messenger.i18n import N_
from messenger.inboxes.service import inbox_settings
from messenger.inboxes.settings import FORBIDDEN_CONTENT_TYPES, AttachmentSettings


def check_type(filename: str, content_type: str, allowed: Sequence[str]) -> str:
    """The declared type, lower-cased, if the inbox takes it and the name does not say
    markup; else 415."""
    declared = (content_type or "").split(";")[0].strip().lower()
    guessed = (mimetypes.guess_type(filename)[0] or "").lower()
    for candidate in (declared, guessed):
        if candidate in FORBIDDEN_CONTENT_TYPES:
            raise UnsupportedMediaError(
                N_("Files of type %(type)s are not accepted."), params={"type": candidate}
            )
    if declared not in allowed:
        raise UnsupportedMediaError(
            N_("Files of type %(type)s are not accepted; allowed: %(allowed)s."),
            params={"type": declared or "?", "allowed": ", ".join(allowed)},
        )
    return declared


class QuotaExceededError(DomainError):
    status_code = 413
    code = "upload_quota_exceeded"


#: The window of the per-session upload quota.
QUOTA_WINDOW = timedelta(hours=24)


class AttachmentService:
    def __init__(self, db: AsyncSession, storage: Storage) -> None:
        self.db = db
        self.storage = storage

    @staticmethod
    def policy(inbox: Inbox) -> AttachmentSettings:
        """The inbox's attachment policy; refused (415) when it takes no files."""
        policy = inbox_settings(inbox).attachments
        if not policy.enabled:
            raise UnsupportedMediaError(N_("This inbox does not accept attachments."))
        return policy

    async def uploaded_today(self, visitor_id: UUID) -> int:
        """Bytes this visitor uploaded in the quota window (sent or not)."""
        since = datetime.now(UTC) - QUOTA_WINDOW
        total = await self.db.scalar(
            select(func.coalesce(func.sum(Attachment.size_bytes), 0)).where(
                Attachment.visitor_id == visitor_id, Attachment.created_at >= since
            )
        )
        return int(total or 0)

    async def check_quota(self, visitor_id: UUID, quota: int, adding: int = 0) -> None:
        if await self.uploaded_today(visitor_id) + adding > quota:
            raise QuotaExceededError(
                N_("You have uploaded the most files allowed for today (%(bytes)d bytes)."),
                params={"bytes": quota},
            )

    async def receive(
        self,
        inbox: Inbox,
        visitor_id: UUID,
        *,
        content_type: str | None,
        content_length: int | None,
        body: AsyncIterator[bytes],
        quota: int,
    ) -> Attachment:
        """Check the policy and the quota, then stream the body's ``file`` to storage.

        Nothing of the body is read before the policy, the declared length and the quota
        are checked; the file's type is checked on its part headers and its first bytes
        before any byte is stored; past the cap the upload stops and nothing is kept.
        """

        async def quota_allows(adding: int, stored: bool) -> None:
            if stored:  # two uploads of one visitor count the quota one after the other
                await self._lock_visitor(visitor_id)
            await self.check_quota(visitor_id, quota, adding)

        return await receive_file(
            self.db,
            self.storage,
            inbox,
            content_type=content_type,
            content_length=content_length,
            body=body,
            quota_allows=quota_allows,
            visitor_id=visitor_id,
        )

    async def _lock_visitor(self, visitor_id: UUID) -> None:
        """Two uploads of one visitor count the quota one after the other (until commit)."""
        if self.db.bind.dialect.name == "postgresql":
            key = int.from_bytes(visitor_id.bytes[:8], "big", signed=True) ^ 0x5550_4C4F_4144
            await self.db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

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
        policy = self.policy(inbox)
        if len(data) > policy.max_bytes:
            raise too_large(policy.max_bytes)
        if not data:
            raise InvalidInputError(N_("The file is empty."))
        declared = check_type(filename, content_type, policy.content_types)
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

    def content(self, attachment: Attachment) -> AsyncIterator[bytes]:
        """The file's bytes in chunks, for a download."""
        return self.storage.stream(attachment.storage_key)

    @staticmethod
    def _never_sent(cutoff: datetime) -> tuple[ColumnElement[bool], ...]:
        return (
            Attachment.message_id.is_(None),
            Attachment.conversation_id.is_(None),
            Attachment.created_at < cutoff,
        )

    async def unsent_before(self, cutoff: datetime) -> list[Attachment]:
        """Uploads never attached to a message, made before ``cutoff``."""
        query = select(Attachment).where(*self._never_sent(cutoff)).order_by(Attachment.id)
        return list(await self.db.scalars(query))

    async def delete_unsent_before(self, cutoff: datetime) -> list[str]:
        """Delete those rows (flushed); the storage keys whose files the caller deletes once
        the deletion is committed (a file is never gone while its row is still there)."""
        result = await self.db.execute(
            delete(Attachment)
            .where(*self._never_sent(cutoff))
            .returning(Attachment.storage_key)
            .execution_options(synchronize_session=False)
        )
        return list(result.scalars())


QuotaCheck = Callable[[int, bool], Awaitable[None]]


async def receive_file(
    db: AsyncSession,
    storage: Storage,
    inbox: Inbox,
    *,
    content_type: str | None,
    content_length: int | None,
    body: AsyncIterator[bytes],
    quota_allows: QuotaCheck,
    **owner: object,
) -> Attachment:
    """One upload, a visitor's or an operator's (``owner``: the Attachment's
    ``visitor_id`` or ``uploaded_by_id``): the inbox's policy, the declared length and the
    quota (``quota_allows(bytes, stored=False)``) before any byte is read; the part's type
    and first bytes before any is stored; the cap while storing; the quota again with the
    stored size (``stored=True``), then the row — or nothing kept at all."""
    policy = AttachmentService.policy(inbox)
    if content_length is not None and content_length > policy.max_bytes + ENVELOPE_BYTES:
        raise too_large(policy.max_bytes)
    # A declared length (less the envelope allowance) counts against the quota at once.
    await quota_allows(max(0, (content_length or 0) - ENVELOPE_BYTES), False)
    part = await file_part(body, content_type, policy.max_bytes)
    declared = check_type(part.filename, part.content_type, policy.content_types)
    try:
        stored = await storage.save_stream(part.chunks, policy.max_bytes)
    except TooLargeError:
        raise too_large(policy.max_bytes) from None
    try:
        await quota_allows(stored.size, True)
        attachment = Attachment(
            inbox_id=inbox.id,
            filename=safe_filename(part.filename),
            content_type=declared,
            size_bytes=stored.size,
            storage_key=stored.key,
            sha256=stored.sha256,
            **owner,
        )
        db.add(attachment)
        await db.flush()
    except BaseException:
        await storage.delete(stored.key)  # nothing half-written
        raise
    return attachment
