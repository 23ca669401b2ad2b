"""Erasing a visitor (152-FZ / GDPR): their own data goes, anonymous statistics stay.

What goes:

- the body of every message the visitor wrote (replaced by :data:`ERASED`; the search
  columns are generated from the body, so they follow);
- every file the visitor uploaded (the row, and the bytes in storage, local or S3);
- the CSAT comment (the rating itself stays: a number, not a person);
- the visitor's contact fields (name, e-mail, phone, locale, location, page, referrer,
  browser, consent time — the pre-chat answers live there too) and the contact row
  (the host site's identifier).

What stays: the visitor row's id (the conversations point to it), the conversations'
rows (inbox, branch, status, times, assignee, rating) and what staff wrote (operator
replies and notes: the staff's own work; an admin who must remove them too deletes the
conversation with ``MESSENGER_RETENTION_MODE=delete``).

Files are deleted from storage after the rows are flushed, inside the transaction: if the
commit then failed, the rows would point at missing files — the erasure is simply run
again (every step is idempotent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.storage import Storage
from messenger.db import audit
from messenger.db.models import (
    Attachment,
    Contact,
    Conversation,
    CsatRating,
    Message,
    MessageSender,
    Visitor,
)
from messenger.errors import NotFoundError
from messenger.i18n import N_

#: What an erased message's body reads.
ERASED = "[erased]"

#: The visitor's columns that hold personal data (all set to NULL).
VISITOR_FIELDS = (
    "name",
    "email",
    "phone",
    "locale",
    "country_code",
    "country",
    "city",
    "country_ru",
    "city_ru",
    "page_url",
    "referrer",
    "user_agent",
    "consent_at",
)


@dataclass(slots=True)
class Erasure:
    """What one erasure removed (counts only: the audit keeps no personal data)."""

    conversations: int = 0
    messages: int = 0
    attachments: int = 0
    contacts: int = 0
    visitors: int = 0

    def add(self, other: Erasure) -> None:
        self.conversations += other.conversations
        self.messages += other.messages
        self.attachments += other.attachments
        self.contacts += other.contacts
        self.visitors += other.visitors

    def as_dict(self) -> dict[str, int]:
        return {
            "conversations": self.conversations,
            "messages": self.messages,
            "attachments": self.attachments,
            "contacts": self.contacts,
            "visitors": self.visitors,
        }


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def erase_conversations(
    db: AsyncSession, storage: Storage, conversation_ids: Sequence[UUID]
) -> Erasure:
    """The visitor-written content of these conversations: bodies, uploads, CSAT comments."""
    done = Erasure(conversations=len(conversation_ids))
    if not conversation_ids:
        return done
    ids = list(conversation_ids)
    done.messages = _count(
        await db.execute(
            update(Message)
            .where(
                Message.conversation_id.in_(ids),
                Message.sender == MessageSender.VISITOR,
                Message.body != ERASED,
            )
            .values(body=ERASED)
            .execution_options(synchronize_session=False)
        )
    )
    keys = list(
        await db.scalars(
            select(Attachment.storage_key).where(
                Attachment.conversation_id.in_(ids), Attachment.uploaded_by_id.is_(None)
            )
        )
    )
    await db.execute(
        delete(Attachment)
        .where(Attachment.conversation_id.in_(ids), Attachment.uploaded_by_id.is_(None))
        .execution_options(synchronize_session=False)
    )
    await db.execute(
        update(CsatRating)
        .where(CsatRating.conversation_id.in_(ids))
        .values(comment=None)
        .execution_options(synchronize_session=False)
    )
    await db.execute(
        update(Conversation)
        .where(Conversation.id.in_(ids))
        .values(erased_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    await db.flush()
    for key in keys:
        await storage.delete(key)
    done.attachments = len(keys)
    return done


async def erase_visitor_fields(
    db: AsyncSession, storage: Storage, visitor_ids: list[UUID]
) -> Erasure:
    """The visitors' contact fields, contact rows and uploads never sent in a message."""
    done = Erasure(visitors=len(visitor_ids))
    if not visitor_ids:
        return done
    await db.execute(
        update(Visitor)
        .where(Visitor.id.in_(visitor_ids))
        .values(dict.fromkeys(VISITOR_FIELDS))
        .execution_options(synchronize_session=False)
    )
    done.contacts = _count(
        await db.execute(
            delete(Contact)
            .where(Contact.visitor_id.in_(visitor_ids))
            .execution_options(synchronize_session=False)
        )
    )
    unsent = Attachment.visitor_id.in_(visitor_ids)
    keys = list(
        await db.scalars(
            select(Attachment.storage_key).where(unsent, Attachment.uploaded_by_id.is_(None))
        )
    )
    await db.execute(
        delete(Attachment)
        .where(unsent, Attachment.uploaded_by_id.is_(None))
        .execution_options(synchronize_session=False)
    )
    await db.flush()
    for key in keys:
        await storage.delete(key)
    done.attachments = len(keys)
    return done


def _expire_loaded(db: AsyncSession) -> None:
    """Rows of the visitor's data loaded before the bulk statements hold old values."""
    kinds = (Visitor, Contact, Message, Attachment, CsatRating, Conversation)
    for row in list(db.identity_map.values()):
        if isinstance(row, kinds):
            db.expire(row)


async def erase_visitor(db: AsyncSession, storage: Storage, visitor_id: UUID) -> Erasure:
    """Erase one visitor everywhere (see the module's docstring), audited."""
    if await db.get(Visitor, visitor_id) is None:
        raise NotFoundError(N_("There is no visitor with id %(id)s."), params={"id": visitor_id})
    conversation_ids = list(
        await db.scalars(select(Conversation.id).where(Conversation.visitor_id == visitor_id))
    )
    done = await erase_conversations(db, storage, conversation_ids)
    done.add(await erase_visitor_fields(db, storage, [visitor_id]))
    _expire_loaded(db)
    audit.record(db, "visitor.erase", f"visitor:{visitor_id}", done.as_dict())
    return done
