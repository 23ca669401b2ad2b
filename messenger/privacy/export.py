"""Exporting a visitor (the right of access): everything held about them, as JSON and files.

The document holds the visitor row, the contact (if the host site identified them), every
conversation with every message — staff notes included, marked ``"kind": "note"``: notes
are personal data *about* the visitor, and the right of access covers them; the admin who
hands the export over may withhold what the law lets them withhold — the CSAT ratings, and
the attachments' metadata. The files themselves are read through the storage abstraction
(:func:`attachment_files`) and written next to the JSON by ``messenger visitor export
--out DIR``.

An export is audited (``visitor.export``): handing someone's data out is an access event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.files import safe_filename
from messenger.attachments.storage import Storage
from messenger.db import audit
from messenger.db.models import Attachment, Contact, Conversation, CsatRating, Message, Visitor
from messenger.errors import NotFoundError
from messenger.i18n import N_
from messenger.privacy.erase import VISITOR_FIELDS

FORMAT_VERSION = 1


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def _attachment(row: Attachment) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "message_id": row.message_id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size_bytes": row.size_bytes,
        "sha256": row.sha256,
        "uploaded_by": "operator" if row.uploaded_by_id is not None else "visitor",
        "file": export_file_name(row),
        "created_at": row.created_at.isoformat(),
    }


def export_file_name(row: Attachment) -> str:
    """Where ``--out`` writes the file: ``attachments/<id>-<safe name>``."""
    return f"attachments/{row.id}-{safe_filename(row.filename)}"


async def visitor_attachments(db: AsyncSession, visitor_id: UUID) -> list[Attachment]:
    conversations = select(Conversation.id).where(Conversation.visitor_id == visitor_id)
    query = (
        select(Attachment)
        .where(
            (Attachment.conversation_id.in_(conversations)) | (Attachment.visitor_id == visitor_id)
        )
        .order_by(Attachment.created_at, Attachment.id)
    )
    return list(await db.scalars(query))


async def export_visitor(db: AsyncSession, visitor_id: UUID) -> dict[str, Any]:
    """The JSON document of everything held about the visitor (audited)."""
    visitor = await db.get(Visitor, visitor_id)
    if visitor is None:
        raise NotFoundError(N_("There is no visitor with id %(id)s."), params={"id": visitor_id})
    contact = await db.scalar(select(Contact).where(Contact.visitor_id == visitor_id))
    conversations = list(
        await db.scalars(
            select(Conversation)
            .where(Conversation.visitor_id == visitor_id)
            .order_by(Conversation.created_at, Conversation.id)
        )
    )
    ids = [c.id for c in conversations]
    messages = list(
        await db.scalars(
            select(Message)
            .where(Message.conversation_id.in_(ids))
            .order_by(Message.conversation_id, Message.id)
        )
    ) if ids else []  # fmt: skip
    ratings = list(
        await db.scalars(select(CsatRating).where(CsatRating.conversation_id.in_(ids)))
    ) if ids else []  # fmt: skip
    attachments = await visitor_attachments(db, visitor_id)
    by_message: dict[int, list[dict[str, Any]]] = {}
    unsent: list[dict[str, Any]] = []
    for row in attachments:
        if row.message_id is None:
            unsent.append(_attachment(row))
        else:
            by_message.setdefault(row.message_id, []).append(_attachment(row))
    document: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "visitor": {
            "id": str(visitor.id),
            "inbox_id": visitor.inbox_id,
            "created_at": visitor.created_at.isoformat(),
            **{name: _value(getattr(visitor, name)) for name in VISITOR_FIELDS},
        },
        "contact": None
        if contact is None
        else {
            "identifier": contact.identifier,
            "name": contact.name,
            "email": contact.email,
            "phone": contact.phone,
            "created_at": contact.created_at.isoformat(),
        },
        "conversations": [
            {
                "id": str(c.id),
                "inbox_id": c.inbox_id,
                "branch_id": c.branch_id,
                "status": _value(c.status),
                "created_at": c.created_at.isoformat(),
                "last_activity_at": c.last_activity_at.isoformat(),
                "erased_at": _value(c.erased_at),
                "csat": [
                    {"rating": r.rating, "comment": r.comment, "at": r.created_at.isoformat()}
                    for r in ratings
                    if r.conversation_id == c.id
                ],
                "messages": [
                    {
                        "id": m.id,
                        "sender": _value(m.sender),
                        "kind": _value(m.kind),
                        "author_name": m.author_name,
                        "body": m.body,
                        "created_at": m.created_at.isoformat(),
                        "attachments": by_message.get(m.id, []),
                    }
                    for m in messages
                    if m.conversation_id == c.id
                ],
            }
            for c in conversations
        ],
        "unsent_attachments": unsent,
    }
    audit.record(
        db,
        "visitor.export",
        f"visitor:{visitor_id}",
        {"conversations": len(conversations), "messages": len(messages),
         "attachments": len(attachments)},
    )  # fmt: skip
    return document


async def attachment_files(
    db: AsyncSession, storage: Storage, visitor_id: UUID
) -> AsyncIterator[tuple[str, AsyncIterator[bytes]]]:
    """``(relative path, chunks)`` of every file of the visitor's export."""
    for row in await visitor_attachments(db, visitor_id):
        yield export_file_name(row), storage.stream(row.storage_key)
