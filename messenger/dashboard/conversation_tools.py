"""What the conversation header's day tools need: its labels and every label, the branches
and operators it can be transferred to, the snooze choices; and whom it may be assigned to
(the active members of its branch: taken from the same list of operators)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from messenger.conversations.labels import all_labels, labels_of
from messenger.db.models import Branch, Conversation, User


async def tools_context(db: AsyncSession, conversation: Conversation) -> dict[str, Any]:
    labels = await all_labels(db)
    on = (await labels_of(db, [conversation.id])).get(conversation.id, [])
    on_ids = {label.id for label in on}
    branches = list(
        await db.scalars(select(Branch).where(Branch.is_active.is_(True)).order_by(Branch.name))
    )
    operators = list(
        await db.scalars(
            select(User)
            .where(User.is_active.is_(True))
            .order_by(User.name)
            .options(selectinload(User.branches))
        )
    )
    branch_id = conversation.branch_id
    return {
        # Ordered by name like ``operators``; none when the conversation has no branch.
        "assignable": [u for u in operators if branch_id is not None and branch_id in u.branch_ids],
        "conversation_labels": on,
        # Every label, for the page's label filter too (filter_choices takes it from here).
        "labels": labels,
        "other_labels": [label for label in labels if label.id not in on_ids],
        "transfer_branches": branches,
        "transfer_operators": [u for u in operators if u.branches],
    }
