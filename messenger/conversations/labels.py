"""Labels: admin-defined, coloured tags named in Russian and English, put on conversations
by staff (within their branch scope) and used to filter the conversation list."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.listing import labels_by_conversation
from messenger.conversations.rules import can_see
from messenger.db import audit
from messenger.db.events import about, record
from messenger.db.models import Conversation, Label, User, conversation_labels
from messenger.errors import InvalidInputError, NotFoundError
from messenger.i18n import N_

MAX_NAME = 60
MAX_LABELS = 200
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _clean(name_ru: str, name_en: str, color: str) -> tuple[str, str, str]:
    ru, en = name_ru.strip(), name_en.strip()
    if not ru or not en:
        raise InvalidInputError(N_("A label needs a Russian and an English name."))
    if len(ru) > MAX_NAME or len(en) > MAX_NAME:
        raise InvalidInputError(
            N_("A label name may have at most %(count)d characters."), params={"count": MAX_NAME}
        )
    if not _COLOR.match(color.strip()):
        raise InvalidInputError(N_("A colour is written like #1a2b3c."))
    return ru, en, color.strip().lower()


async def all_labels(db: AsyncSession) -> list[Label]:
    return list(await db.scalars(select(Label).order_by(Label.name_en, Label.id)))


async def create_label(db: AsyncSession, name_ru: str, name_en: str, color: str) -> Label:
    ru, en, colour = _clean(name_ru, name_en, color)
    if (await db.scalar(select(func.count()).select_from(Label)) or 0) >= MAX_LABELS:
        raise InvalidInputError(
            N_("There can be at most %(count)d labels."), params={"count": MAX_LABELS}
        )
    label = Label(name_ru=ru, name_en=en, color=colour)
    db.add(label)
    await db.flush()
    audit.record(db, "label.create", f"label:{label.id}", {"after": _fields(label)})
    return label


def _fields(label: Label) -> dict[str, str]:
    return {"name_ru": label.name_ru, "name_en": label.name_en, "color": label.color}


async def require_label(db: AsyncSession, label_id: int) -> Label:
    label = await db.get(Label, label_id)
    if label is None:
        raise NotFoundError(N_("No such label."))
    return label


async def update_label(
    db: AsyncSession, label_id: int, name_ru: str, name_en: str, color: str
) -> Label:
    label = await require_label(db, label_id)
    before = _fields(label)
    label.name_ru, label.name_en, label.color = _clean(name_ru, name_en, color)
    await db.flush()
    audit.record(db, "label.update", f"label:{label.id}", audit.diff(before, _fields(label)))
    return label


async def delete_label(db: AsyncSession, label_id: int) -> None:
    label = await require_label(db, label_id)
    audit.record(db, "label.delete", f"label:{label.id}", {"before": _fields(label)})
    await db.delete(label)
    await db.flush()


async def labels_of(db: AsyncSession, conversation_ids: list[UUID]) -> dict[UUID, list[Label]]:
    """Each conversation's labels, by English name (the list rows' loader)."""
    return await labels_by_conversation(db, conversation_ids) if conversation_ids else {}


def _changed(db: AsyncSession, conversation: Conversation) -> None:
    conversation.updated_at = datetime.now(UTC)  # the live list redraws rows changed since
    record(
        db,
        about(
            conversation,
            "status",
            {"conversation_id": str(conversation.id), "labels": True},
            to_visitor=False,
        ),
    )


async def add_label(
    db: AsyncSession, conversation: Conversation, actor: User, label_id: int
) -> bool:
    """Put the label on the conversation; False: it was there already."""
    if not can_see(actor, conversation):
        raise NotFoundError(N_("No such conversation."))
    await require_label(db, label_id)
    dialect = db.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    result = await db.execute(
        insert(conversation_labels)
        .values(conversation_id=conversation.id, label_id=label_id)
        .on_conflict_do_nothing()  # added twice at once: one row
    )
    if not getattr(result, "rowcount", 0):
        return False
    _changed(db, conversation)
    await db.flush()
    return True


async def remove_label(
    db: AsyncSession, conversation: Conversation, actor: User, label_id: int
) -> bool:
    """Take the label off; False: it was not there."""
    if not can_see(actor, conversation):
        raise NotFoundError(N_("No such conversation."))
    result = await db.execute(
        delete(conversation_labels).where(
            conversation_labels.c.conversation_id == conversation.id,
            conversation_labels.c.label_id == label_id,
        )
    )
    if not getattr(result, "rowcount", 0):
        return False
    _changed(db, conversation)
    await db.flush()
    return True
