"""The integration API's reads: conversation pages (the unified messenger's keyset pages and
search, not a second set of rules), one conversation, a conversation's messages, and the
people who wrote (contacts).

A conversation page's ``next_cursor`` is opaque to clients: ``k.<list cursor>`` for the
keyset order of the list (newest activity first: ``(last_activity_at, id)``, stable while
new conversations arrive) or ``s.<search cursor>`` for a page of search results (``q``).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace
from uuid import UUID

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.actors import Actor
from messenger.conversations.listing import (
    ConversationFilters,
    ConversationRow,
    Cursor,
    list_conversations,
    load_rows,
)
from messenger.conversations.rules import scope_query
from messenger.conversations.search import SearchCursor, search_conversations
from messenger.conversations.service import ConversationService
from messenger.conversations.timeline import staff_messages
from messenger.db.models import Contact, Conversation, Label, Message, Visitor
from messenger.errors import InvalidInputError
from messenger.i18n import N_

#: Conversations of one contact shown with it.
CONTACT_CONVERSATIONS = 20


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[ConversationRow]
    next_cursor: str | None


def _encode(kind: str, text: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}.{text}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInputError(N_("This page link is not valid.")) from None
    kind, _, text = raw.partition(".")
    if kind not in {"k", "s"} or not text:
        raise InvalidInputError(N_("This page link is not valid."))
    return kind, text


async def conversation_page(
    session: AsyncSession,
    actor: Actor,
    filters: ConversationFilters,
    cursor: str | None,
    limit: int,
) -> Page:
    """A page of the conversations ``actor`` may see, newest activity first (or, with a
    search text, by relevance as the dashboard ranks it)."""
    kind, text = _decode(cursor) if cursor else ("s" if filters.search.strip() else "k", "")
    if filters.search.strip():
        if kind != "s":
            raise InvalidInputError(N_("This page link is not valid."))
        found = await search_conversations(
            session, actor, filters, SearchCursor.decode(text) if text else None, limit
        )
        following = _encode("s", found.next.encode()) if found.next else None
        return Page(found.rows, following)
    if kind != "k":
        raise InvalidInputError(N_("This page link is not valid."))
    filters = replace(filters, before=Cursor.decode(text) if text else None)
    rows = await list_conversations(session, actor, filters, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    following = _encode("k", Cursor.of(rows[-1].conversation).encode()) if more else None
    return Page(rows, following)


async def one_conversation(
    session: AsyncSession, actor: Actor, conversation_id: UUID
) -> ConversationRow:
    """The conversation if ``actor`` may see it (else 404), as a list row (unread count)."""
    conversation = await ConversationService(session=session).get_for_staff(conversation_id, actor)
    return (await load_rows(session, [conversation]))[0]


async def messages_after(
    session: AsyncSession, conversation: Conversation, after: int, limit: int
) -> tuple[list[Message], str | None]:
    """Messages, notes and events after id ``after``, ids ascending; the next cursor is the
    last id of a full page."""
    messages = await staff_messages(session, conversation.id, after_id=after, limit=limit)
    return messages, str(messages[-1].id) if len(messages) == limit else None


_DIGITS = re.compile(r"\D")


async def label_id_of(session: AsyncSession, label: str) -> int | None:
    """The label named ``label`` (its id, or its Russian or English name, any case)."""
    text = label.strip()
    found: int | None
    if text.isdigit():
        found = await session.scalar(select(Label.id).where(Label.id == int(text)))
        return found
    lowered = text.lower()
    found = await session.scalar(
        select(Label.id)
        .where(or_(func.lower(Label.name_en) == lowered, func.lower(Label.name_ru) == lowered))
        .order_by(Label.id)
        .limit(1)
    )
    return found


async def contacts_of(session: AsyncSession, visitor_ids: list[UUID]) -> dict[UUID, Contact]:
    """The contacts (signed identities) of these visitors, by visitor id."""
    if not visitor_ids:
        return {}
    found = await session.scalars(select(Contact).where(Contact.visitor_id.in_(visitor_ids)))
    return {contact.visitor_id: contact for contact in found}


async def find_contacts(
    session: AsyncSession,
    actor: Actor,
    *,
    identifier: str | None = None,
    email: str | None,
    phone: str | None,
    after: UUID | None,
    limit: int,
) -> tuple[list[tuple[Visitor, list[Conversation]]], str | None]:
    """People with this identity (the inbox's contact identifier), e-mail (any case)
    and/or phone (its digits) who wrote in a conversation ``actor`` may see, with those
    conversations (newest first)."""
    in_scope = scope_query(select(Conversation.visitor_id), actor)
    query = select(Visitor).where(Visitor.id.in_(in_scope.scalar_subquery()))
    if identifier:
        query = query.where(
            Visitor.id.in_(
                select(Contact.visitor_id).where(Contact.identifier == identifier.strip())
            )
        )
    if email:
        query = query.where(func.lower(Visitor.email) == email.strip().lower())
    if phone:
        digits = _DIGITS.sub("", phone)
        if not digits:
            raise InvalidInputError(N_("A phone number needs digits."))
        if session.get_bind().dialect.name == "postgresql":
            query = query.where(func.regexp_replace(Visitor.phone, "[^0-9]", "", "g") == digits)
        else:  # embedded mode: the phone as written
            query = query.where(Visitor.phone == phone.strip())
    if after is not None:
        query = query.where(Visitor.id > after)
    visitors = list((await session.scalars(query.order_by(Visitor.id).limit(limit + 1))).all())
    more = len(visitors) > limit
    visitors = visitors[:limit]
    found: list[tuple[Visitor, list[Conversation]]] = []
    for visitor in visitors:
        conversations = scope_query(select(Conversation), actor).where(
            Conversation.visitor_id == visitor.id
        )
        latest = conversations.order_by(Conversation.last_activity_at.desc()).limit(
            CONTACT_CONVERSATIONS
        )
        found.append((visitor, list((await session.scalars(latest)).all())))
    return found, str(visitors[-1].id) if more else None
