"""Erasure, export and retention against PostgreSQL and real (local) storage: the visitor's
content goes from the database AND the storage, other visitors stay untouched, statistics
stay, every step is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.storage import LocalStorage, Storage
from messenger.conversations.service import ConversationService
from messenger.db.models import (
    Attachment,
    AuditEntry,
    Contact,
    Conversation,
    CsatRating,
    Inbox,
    Message,
    MessageKind,
    MessageSender,
    User,
    Visitor,
)
from messenger.errors import NotFoundError
from messenger.privacy.erase import ERASED, erase_visitor
from messenger.privacy.export import export_visitor
from messenger.privacy.retention import count_due, cutoff_for, run_batch
from tests.support.factories import make_branch, make_conversation, make_inbox, make_user

pytestmark = pytest.mark.usefixtures("clean_db")

PERSON = {
    "name": "Ivan Secretov",
    "email": "ivan@private.example",
    "phone": "+7 900 111 22 33",
    "page_url": "https://shop.example/cart?ivan",
    "referrer": "https://search.example/?q=ivan",
    "user_agent": "IvanBrowser/1.0",
    "city": "Kazan",
    "country": "Russia",
    "country_code": "RU",
}


async def seed_person(
    db: AsyncSession,
    storage: Storage,
    inbox: Inbox,
    operator: User,
    tag: str,
    branch_id: int | None = None,
) -> tuple[Conversation, list[str]]:
    """A visitor with a contact, two messages, an operator reply, a note, a file, a CSAT."""
    person = {k: (f"{v}-{tag}" if k not in ("country_code",) else v) for k, v in PERSON.items()}
    conversation = await make_conversation(db, inbox, branch_id, **person)
    service = ConversationService(session=db)
    first, _ = await service.append(
        conversation, sender=MessageSender.VISITOR, body=f"my card is 4111-{tag}"
    )
    await service.append(conversation, sender=MessageSender.VISITOR, body=f"call me {tag}")
    reply, _ = await service.append(
        conversation, sender=MessageSender.OPERATOR, body=f"hello {tag}", author=operator
    )
    await service.append(
        conversation,
        sender=MessageSender.OPERATOR,
        kind=MessageKind.NOTE,
        body=f"note about {tag}",
        author=operator,
    )
    key = await storage.save(f"passport scan {tag}".encode())
    db.add(
        Attachment(
            inbox_id=inbox.id,
            conversation_id=conversation.id,
            message_id=first.id,
            visitor_id=conversation.visitor_id,
            filename=f"passport-{tag}.pdf",
            content_type="application/pdf",
            size_bytes=20,
            storage_key=key,
            sha256="0" * 64,
        )
    )
    unsent = await storage.save(f"unsent {tag}".encode())
    db.add(
        Attachment(
            inbox_id=inbox.id,
            visitor_id=conversation.visitor_id,
            filename=f"draft-{tag}.png",
            content_type="image/png",
            size_bytes=9,
            storage_key=unsent,
            sha256="1" * 64,
        )
    )
    db.add(
        Contact(
            inbox_id=inbox.id,
            identifier=f"crm-{tag}",
            visitor_id=conversation.visitor_id,
            name=f"Ivan CRM {tag}",
            email=f"crm-{tag}@private.example",
        )
    )
    db.add(
        CsatRating(
            conversation_id=conversation.id,
            resolution_message_id=reply.id,
            rating=4,
            comment=f"slow but fine {tag}",
        )
    )
    await db.commit()
    return conversation, [key, unsent]


async def dump(db: AsyncSession) -> str:
    """Everything in the visitor-data tables, as one text (what a leak would show)."""
    parts = []
    for table in ("visitors", "contacts", "messages", "attachments", "csat_ratings"):
        rows = await db.execute(text(f"SELECT * FROM {table}"))  # noqa: S608 - fixed names
        parts.append(repr(rows.all()))
    return "\n".join(parts)


@pytest.fixture
async def world(db_session: AsyncSession, tmp_path: Path) -> dict[str, Any]:
    branch = await make_branch(db_session, "Alpha")
    operator = await make_user(db_session, [branch], email="op@example.com")
    inbox = await make_inbox(db_session)
    storage = LocalStorage(tmp_path / "attachments")
    erased, erased_keys = await seed_person(db_session, storage, inbox, operator, "one")
    kept, kept_keys = await seed_person(db_session, storage, inbox, operator, "two")
    return {
        "storage": storage,
        "root": tmp_path / "attachments",
        "erased": erased,
        "erased_keys": erased_keys,
        "kept": kept,
        "kept_keys": kept_keys,
    }


def stored_keys(root: Path) -> set[str]:
    return {p.name for p in root.rglob("*") if p.is_file()}


async def test_erase_leaves_no_body_contact_field_or_file_and_spares_others(
    db_session: AsyncSession, world: dict[str, Any]
) -> None:
    visitor_id: UUID = world["erased"].visitor_id
    conversation_id: UUID = world["erased"].id
    done = await erase_visitor(db_session, world["storage"], visitor_id)
    await db_session.commit()
    assert done.as_dict() == {
        "conversations": 1, "messages": 2, "attachments": 2, "contacts": 1, "visitors": 1,
    }  # fmt: skip

    everything = await dump(db_session)
    for secret in ("-one", "4111-one", "call me one", "crm-one", "passport-one", "draft-one"):
        assert secret not in everything, secret
    # The other visitor is untouched: every field, body and file.
    for kept in ("Ivan Secretov-two", "4111-two", "crm-two", "passport-two", "slow but fine two"):
        assert kept in everything, kept
    files = stored_keys(world["root"])
    assert not files & set(world["erased_keys"])
    assert set(world["kept_keys"]) <= files

    visitor = await db_session.get(Visitor, visitor_id)
    assert visitor is not None
    assert (visitor.name, visitor.email, visitor.phone, visitor.page_url, visitor.city) == (
        None, None, None, None, None,
    )  # fmt: skip
    bodies = list(
        await db_session.scalars(
            select(Message.body)
            .where(Message.conversation_id == conversation_id)
            .where(Message.sender == MessageSender.VISITOR)
        )
    )
    assert bodies == [ERASED, ERASED]
    # Anonymous statistics stay: the conversation row, its status and the rating.
    conversation = await db_session.get(Conversation, conversation_id)
    assert conversation is not None
    assert conversation.erased_at is not None
    rating = await db_session.scalar(
        select(CsatRating).where(CsatRating.conversation_id == conversation_id)
    )
    assert rating is not None
    assert rating.rating == 4
    assert rating.comment is None
    # Search follows the body (generated columns): the old words are not found.
    found = await db_session.scalar(
        text("SELECT count(*) FROM messages WHERE search_en @@ plainto_tsquery('english', 'card')")
    )
    assert found == 1  # only the other visitor's "my card is 4111-two"

    entry = await db_session.scalar(select(AuditEntry).where(AuditEntry.action == "visitor.erase"))
    assert entry is not None
    assert entry.target == f"visitor:{visitor_id}"
    assert entry.actor_email == "system"
    assert "Ivan" not in repr(entry.changes)

    again = await erase_visitor(db_session, world["storage"], visitor_id)  # idempotent
    assert again.messages == 0
    assert again.attachments == 0
    with pytest.raises(NotFoundError):
        await erase_visitor(db_session, world["storage"], UUID(int=1))


async def test_export_contains_everything_held_about_the_visitor(
    db_session: AsyncSession, world: dict[str, Any]
) -> None:
    visitor_id: UUID = world["erased"].visitor_id
    document = await export_visitor(db_session, visitor_id)
    await db_session.commit()
    assert document["visitor"]["name"] == "Ivan Secretov-one"
    assert document["visitor"]["email"] == "ivan@private.example-one"
    assert document["visitor"]["page_url"].endswith("-one")
    assert document["contact"]["identifier"] == "crm-one"
    [conversation] = document["conversations"]
    bodies = [(m["sender"], m["kind"], m["body"]) for m in conversation["messages"]]
    assert ("visitor", "message", "my card is 4111-one") in bodies
    assert ("operator", "message", "hello one") in bodies
    assert ("operator", "note", "note about one") in bodies  # notes included (docs/security.md)
    assert conversation["csat"][0]["comment"] == "slow but fine one"
    files = [a for m in conversation["messages"] for a in m["attachments"]]
    assert [f["filename"] for f in files] == ["passport-one.pdf"]
    assert [f["filename"] for f in document["unsent_attachments"]] == ["draft-one.png"]
    assert "two" not in repr(document).replace(str(visitor_id), "")
    entry = await db_session.scalar(select(AuditEntry).where(AuditEntry.action == "visitor.export"))
    assert entry is not None
    assert entry.changes["attachments"] == 2


async def test_retention_dry_run_counts_and_real_run_acts_in_batches(
    db_session: AsyncSession, world: dict[str, Any]
) -> None:
    inbox = await db_session.get(Inbox, world["kept"].inbox_id)
    assert inbox is not None
    olds = [world["erased"].id]
    for n in range(4):
        conversation = await make_conversation(db_session, inbox, None, name=f"Old {n}")
        await ConversationService(session=db_session).append(
            conversation, sender=MessageSender.VISITOR, body=f"old words {n}"
        )
        olds.append(conversation.id)
    long_ago = datetime.now(UTC) - timedelta(days=400)
    await db_session.execute(
        update(Conversation).where(Conversation.id.in_(olds)).values(last_activity_at=long_ago)
    )
    await db_session.commit()
    cutoff = cutoff_for(365)

    due = await count_due(db_session, "anonymise", cutoff)
    assert (due.conversations, due.visitors) == (5, 5)
    batches = []
    while (
        result := await run_batch(db_session, world["storage"], "anonymise", cutoff, 2)
    ).erasure.conversations:
        await db_session.commit()
        batches.append(result.erasure.conversations)
    assert batches == [2, 2, 1]
    assert (await count_due(db_session, "anonymise", cutoff)).conversations == 0
    everything = await dump(db_session)
    assert "old words" not in everything
    assert "4111-one" not in everything
    assert "Old 0" not in everything
    assert "Ivan Secretov-one" not in everything
    assert "4111-two" in everything
    assert "Ivan Secretov-two" in everything
    assert await db_session.scalar(select(func.count()).select_from(Conversation)) == 6
    runs = await db_session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "retention.run")
    )
    assert runs == 3

    # delete mode: the (already anonymised) old conversations and their visitors go.
    assert (await count_due(db_session, "delete", cutoff)).conversations == 5
    deleted = await run_batch(db_session, world["storage"], "delete", cutoff, 10)
    await db_session.commit()
    assert deleted.deleted_conversations == 5
    assert await db_session.scalar(select(func.count()).select_from(Conversation)) == 1
    assert await db_session.scalar(select(func.count()).select_from(Visitor)) == 1
    assert set(world["kept_keys"]) == stored_keys(world["root"])


async def test_the_audit_table_refuses_updates(db_session: AsyncSession) -> None:
    from messenger.db import audit

    audit.record(db_session, "branch.create", "branch:1", {"name": "X"})
    await db_session.commit()
    with pytest.raises(Exception, match="append-only"):
        await db_session.execute(text("UPDATE audit_entries SET action = 'forged'"))
    await db_session.rollback()


async def test_the_worker_prunes_the_audit_and_runs_retention(
    db_session: AsyncSession, settings: Any
) -> None:
    import dataclasses

    from messenger.db import audit
    from messenger.worker.periodic import PERIODIC
    from messenger.worker.privacy_jobs import audit_prune, retention

    names = {job.name: job.function for job in PERIODIC}
    assert names["retention.run"] is retention
    assert names["audit.prune"] is audit_prune
    old = audit.record(db_session, "branch.create", "branch:1", {"name": "Old"})
    old.at = datetime.now(UTC) - timedelta(days=400)
    audit.record(db_session, "branch.create", "branch:2", {"name": "New"})
    await db_session.commit()
    assert await audit_prune(db_session, settings) == 1
    await db_session.commit()
    left = list(await db_session.scalars(select(AuditEntry.target)))
    assert left == ["branch:2"]
    # Retention unset: the periodic function does nothing.
    assert await retention(db_session, dataclasses.replace(settings, retention_days=None)) == 0
