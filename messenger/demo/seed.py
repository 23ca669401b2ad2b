"""The demo data: a branch, an operator, an admin and an inbox allowed on this machine.

``messenger demo`` (and so ``make run``) calls :func:`seed_demo`; the demo page
(:mod:`messenger.demo.controllers`) shows the inbox named :data:`DEMO_INBOX`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.service import UserService
from messenger.branches.service import BranchService
from messenger.db.models import Branch, Inbox, UserRole
from messenger.inboxes.service import InboxService

__all__ = [
    "DEMO_ADMIN_EMAIL",
    "DEMO_BRANCH",
    "DEMO_DOMAINS",
    "DEMO_INBOX",
    "DEMO_OPERATOR_EMAIL",
    "DemoSeed",
    "seed_demo",
]

DEMO_BRANCH = "Demo branch"
DEMO_INBOX = "Demo site"
DEMO_OPERATOR_EMAIL = "operator@demo.messenger.local"
DEMO_ADMIN_EMAIL = "admin@demo.messenger.local"
DEMO_DOMAINS = ["localhost", "127.0.0.1", "127.0.0.2", "[::1]"]
DEMO_GREETING = "Hello! How can we help?"


@dataclass(frozen=True, slots=True)
class DemoSeed:
    """What was seeded; the passwords exist only here (stored hashed)."""

    branch: Branch
    inbox: Inbox
    operator_password: str
    admin_password: str


async def seed_demo(session: AsyncSession) -> DemoSeed:
    """Create the demo data, or bring it back (idempotent).

    The two users get new random passwords on every run and are switched back on.
    """
    operator_password = secrets.token_urlsafe(9)
    admin_password = secrets.token_urlsafe(9)
    branches = BranchService(session=session)
    users = UserService(session=session)
    inboxes = InboxService(session=session)
    branch = await branches.get_one_or_none(name=DEMO_BRANCH)
    if branch is None:
        branch = await branches.create_branch(DEMO_BRANCH)
    for email, name, role, password in (
        (DEMO_OPERATOR_EMAIL, "Demo Operator", UserRole.OPERATOR, operator_password),
        (DEMO_ADMIN_EMAIL, "Demo Admin", UserRole.ADMIN, admin_password),
    ):
        user = await users.get_by_email(email)
        if user is None:
            await users.create_user(
                email=email, name=name, password=password, role=role, branches=[branch]
            )
        else:
            await users.set_password(user.id, password)
            await users.set_active(user.id, active=True)
    inbox = await inboxes.get_one_or_none(name=DEMO_INBOX)
    if inbox is None:
        inbox = await inboxes.create_inbox(
            name=DEMO_INBOX,
            domains=DEMO_DOMAINS,
            branch=branch,
            settings={"greeting": DEMO_GREETING},
        )
    return DemoSeed(
        branch=branch,
        inbox=inbox,
        operator_password=operator_password,
        admin_password=admin_password,
    )
