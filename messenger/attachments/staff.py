"""Files from operators: uploaded from the composer with the visitor uploads' checks (the
conversation's inbox policy: enabled, size cap, allowed types, no markup; streamed to the
same storage under a hard cap), then sent with the operator's next message, which carries
them to the widget as the same inert downloads (signed links, ``download_headers``).

An upload is the uploader's until sent: only they can attach it (``uploaded_by_id``); one
never sent is removed by the same clean-up as a visitor's (``delete_unsent_before``).
Nothing here commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session

from messenger.attachments.service import QUOTA_WINDOW, QuotaExceededError, receive_file
from messenger.attachments.storage import Storage
from messenger.db.models import Attachment, Conversation, Inbox, Message, User
from messenger.errors import InvalidInputError, NotFoundError
from messenger.i18n import N_

#: The most files one operator message carries (the widget's limit too).
MAX_FILES_PER_MESSAGE = 10


def parse_ids(value: str) -> list[UUID]:
    """The composer's ``attachment_ids`` field: ids separated by commas."""
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if len(parts) > MAX_FILES_PER_MESSAGE:
        raise InvalidInputError(
            N_("A message carries at most %(count)d files."),
            params={"count": MAX_FILES_PER_MESSAGE},
        )
    try:
        return [UUID(part) for part in parts]
    except ValueError:
        raise InvalidInputError(N_("attachment_ids: not attachment ids.")) from None


class StaffUploads:
    def __init__(self, db: AsyncSession, storage: Storage) -> None:
        self.db = db
        self.storage = storage

    async def _check_quota(self, uploader: User, quota: int, adding: int = 0) -> None:
        """An operator's uploads in 24 hours are bounded like a widget session's
        (``MESSENGER_UPLOAD_QUOTA_BYTES``); concurrent uploads of one operator count in turn."""
        if self.db.bind.dialect.name == "postgresql":
            key = 0x5354_4146_4655_0000 ^ uploader.id  # "STAFFU"
            await self.db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        since = datetime.now(UTC) - QUOTA_WINDOW
        used = await self.db.scalar(
            select(func.coalesce(func.sum(Attachment.size_bytes), 0)).where(
                Attachment.uploaded_by_id == uploader.id, Attachment.created_at >= since
            )
        )
        if int(used or 0) + adding > quota:
            raise QuotaExceededError(
                N_("You have uploaded the most files allowed for today (%(bytes)d bytes)."),
                params={"bytes": quota},
            )

    async def receive(
        self,
        conversation: Conversation,
        uploader: User,
        *,
        content_type: str | None,
        content_length: int | None,
        body: AsyncIterator[bytes],
        quota: int,
    ) -> Attachment:
        """The visitor upload's checks, in the same order: the inbox's policy, the declared
        length and the quota before reading; the part's type and first bytes before storing;
        the cap while storing (nothing kept past it)."""
        inbox = await self.db.get(Inbox, conversation.inbox_id)
        if inbox is None:
            raise NotFoundError(N_("No such conversation."))
        return await receive_file(
            self.db,
            self.storage,
            inbox,
            content_type=content_type,
            content_length=content_length,
            body=body,
            quota_allows=lambda adding, _stored: self._check_quota(uploader, quota, adding),
            uploaded_by_id=uploader.id,
        )


async def link_staff_uploads(
    db: AsyncSession | async_scoped_session[AsyncSession],
    conversation: Conversation,
    message: Message,
    uploader: User,
    ids: Sequence[UUID],
) -> list[Attachment]:
    """Attach the operator's own, not yet sent uploads of this conversation's inbox to
    ``message``; all or none (an error rolls the caller's transaction back)."""
    if not ids:
        return []
    result = await db.execute(
        update(Attachment)
        .where(
            Attachment.id.in_(list(ids)),
            Attachment.inbox_id == conversation.inbox_id,
            Attachment.uploaded_by_id == uploader.id,
            Attachment.visitor_id.is_(None),
            Attachment.message_id.is_(None),
        )
        .values(message_id=message.id, conversation_id=conversation.id)
        .returning(Attachment)
        .execution_options(synchronize_session=False)
    )
    linked = list(result.scalars())
    if len(linked) != len(set(ids)):
        raise InvalidInputError(N_("An attachment is unknown, not yours, or already sent."))
    return sorted(linked, key=lambda a: a.created_at)
