"""What the Reports page's filters offer: only inboxes, branches, operators of the reader's
branch scope (an admin: all of them), and every label."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.actors import Actor
from messenger.conversations.labels import all_labels
from messenger.db.models import Branch, Inbox, Label, User
from messenger.db.models.user import user_branches


@dataclass(frozen=True, slots=True)
class FilterOptions:
    inboxes: list[Inbox]
    branches: list[Branch]
    operators: list[User]
    labels: list[Label]


async def filter_options(session: AsyncSession, user: Actor) -> FilterOptions:
    inboxes = select(Inbox).order_by(Inbox.name, Inbox.id)
    branches = select(Branch).order_by(Branch.name, Branch.id)
    operators = select(User).order_by(User.name, User.id)
    if not user.is_admin:
        mine = sorted(user.branch_ids) or [-1]
        inboxes = inboxes.where(or_(Inbox.branch_id.in_(mine), Inbox.branch_id.is_(None)))
        branches = branches.where(Branch.id.in_(mine))
        members = select(user_branches.c.user_id).where(user_branches.c.branch_id.in_(mine))
        operators = operators.where(User.id.in_(members))
    return FilterOptions(
        inboxes=list((await session.scalars(inboxes)).all()),
        branches=list((await session.scalars(branches)).all()),
        operators=list((await session.scalars(operators)).all()),
        labels=await all_labels(session),
    )
