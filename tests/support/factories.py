"""Small builders of domain rows for tests, written through the real services.

Services never commit (the request or the command does); each builder commits what it
built, so that the app under test (another session) sees it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.service import UserService
from messenger.branches.service import BranchService
from messenger.conversations.service import ConversationService
from messenger.db.models import (
    Branch,
    Conversation,
    Inbox,
    User,
    UserRole,
    Visitor,
    WebhookEndpoint,
)

PASSWORD = "correct horse battery"


async def make_branch(session: AsyncSession, name: str = "Moscow") -> Branch:
    branch = await BranchService(session=session).create_branch(name)
    await session.commit()
    return branch


async def make_user(
    session: AsyncSession,
    branches: list[Branch],
    *,
    email: str = "op@example.com",
    name: str = "Olga",
    role: UserRole = UserRole.OPERATOR,
    active: bool = True,
) -> User:
    users = UserService(session=session)
    user = await users.create_user(
        email=email, name=name, password=PASSWORD, role=role, branches=branches
    )
    if not active:
        user = await users.set_active(user.id, active=False)
    await session.commit()
    return user


async def make_inbox(
    session: AsyncSession,
    *,
    name: str = "Shop",
    branch: Branch | None = None,
    fallback: Branch | None = None,
    domains: list[str] | None = None,
    settings: dict[str, Any] | None = None,
) -> Inbox:
    from messenger.inboxes.service import InboxService

    inbox = await InboxService(session=session).create_inbox(
        name=name,
        domains=domains if domains is not None else ["shop.example"],
        branch=branch,
        fallback_branch=fallback,
        settings=settings,
    )
    await session.commit()
    return inbox


async def make_conversation(
    session: AsyncSession, inbox: Inbox, branch_id: int | None, **visitor: Any
) -> Conversation:
    row = Visitor(inbox_id=inbox.id, **visitor)
    session.add(row)
    await session.flush()
    service = ConversationService(session=session)
    conversation = await service.start(inbox=inbox, visitor=row, branch_id=branch_id)
    await session.commit()
    return conversation


async def make_webhook_endpoint(
    session: AsyncSession,
    *,
    inbox: Inbox | None = None,
    events: list[str] | None = None,
    enabled: bool = True,
) -> WebhookEndpoint:
    """An endpoint (``events`` empty: every event; ``inbox`` None: every inbox), committed."""
    endpoint = WebhookEndpoint(
        url="https://crm.example.com/hooks",
        secret="whsec_" + "x" * 32,
        events=events or [],
        inbox_id=inbox.id if inbox is not None else None,
        enabled=enabled,
    )
    session.add(endpoint)
    await session.commit()
    return endpoint
