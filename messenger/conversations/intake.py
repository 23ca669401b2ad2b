"""One way in for a visitor's conversation: the first message and the offline form both
come through :class:`ConversationIntake`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from messenger.config import Settings
from messenger.conversations.service import ConversationService
from messenger.db.models import (
    Conversation,
    ConversationChannel,
    ConversationStatus,
    Inbox,
    MessageKind,
    MessageSender,
    Visitor,
)
from messenger.routing.service import RoutingRuleService
from messenger.visitors.geo import GeoLocator
from messenger.visitors.service import Caller, VisitorService


def visitor_lock_key(visitor_id: UUID) -> int:
    return int.from_bytes(hashlib.sha256(visitor_id.bytes).digest()[:8], "big", signed=True)


async def current_conversation(
    db: AsyncSession, inbox_id: int, visitor_id: UUID
) -> Conversation | None:
    """The visitor's latest conversation in this inbox, unless it was closed."""
    conversation = await db.scalar(
        select(Conversation)
        .where(Conversation.inbox_id == inbox_id, Conversation.visitor_id == visitor_id)
        # The widget path reads columns only: no relationship loads on every call.
        .options(raiseload("*"))
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    if conversation is None or conversation.status == ConversationStatus.CLOSED:
        return None
    return conversation


@dataclass(frozen=True, slots=True)
class Intake:
    conversation: Conversation
    visitor: Visitor
    started: bool


class ConversationIntake:
    def __init__(self, db: AsyncSession, settings: Settings, geo: GeoLocator) -> None:
        self.db = db
        self.settings = settings
        self.visitors = VisitorService(db, settings, geo)
        self.conversations = ConversationService(session=db)

    async def take(
        self,
        inbox: Inbox,
        visitor_id: UUID,
        caller: Caller,
        page_url: str | None,
        *,
        contact: dict[str, str | None] | None = None,
        channel: ConversationChannel = ConversationChannel.CHAT,
        referrer: str | None = None,
    ) -> Intake:
        """The visitor's open conversation, or a new one routed to a branch.

        One visitor's first messages (two tabs, a double click, the offline form sent
        twice) must not open two conversations: they are serialised on the visitor until
        the transaction ends (a PostgreSQL advisory lock; SQLite serialises writers).
        """
        if self.db.bind.dialect.name == "postgresql":
            await self.db.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": visitor_lock_key(visitor_id)}
            )
        visitor = await self.visitors.upsert(
            inbox, visitor_id, caller, page_url, contact=contact, referrer=referrer
        )
        conversation = await current_conversation(self.db, inbox.id, visitor_id)
        if conversation is not None:
            return Intake(conversation, visitor, started=False)
        context = self.visitors.context(caller, page_url, visitor.locale)
        branch_id = await RoutingRuleService(session=self.db).route(
            inbox, context, self.settings.default_branch_id
        )
        conversation = await self.conversations.start(
            inbox=inbox, visitor=visitor, branch_id=branch_id, channel=channel
        )
        await self.db.flush()
        if channel == ConversationChannel.OFFLINE_FORM:
            # A staff-only line saying how this conversation began (shown translated).
            await self.conversations.append(
                conversation,
                sender=MessageSender.SYSTEM,
                kind=MessageKind.NOTE,
                body="offline_form",
            )
        return Intake(conversation, visitor, started=True)
