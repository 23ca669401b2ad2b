"""Transfer: hand a conversation to another branch, or to an operator, with an optional note.

The conversation's branch becomes the target's: the new branch's staff see it, the old
branch's operators lose it (branch scope: 404 from then on). The visitor sees one neutral
event line (``transferred``: no staff names); staff see the note as an internal note.
Live screens of both branches are told (the old branch's list drops the row).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.rules import can_see, clean_body
from messenger.conversations.service import ConversationService
from messenger.db.events import DomainEvent, record
from messenger.db.models import Branch, Conversation, MessageKind, MessageSender, User
from messenger.errors import InvalidInputError, NotFoundError
from messenger.i18n import N_

#: The event line's stable code (shown translated; see dashboard/labels.py and the widget).
TRANSFERRED = "transferred"


async def transfer(
    db: AsyncSession,
    conversation: Conversation,
    actor: User,
    *,
    branch_id: int | None = None,
    operator_id: int | None = None,
    note: str = "",
) -> Conversation:
    """Move ``conversation`` to ``branch_id`` (unassigned), or to ``operator_id`` (in
    ``branch_id`` if given, else in the conversation's branch when they belong to it, else
    in their first branch). Neither given, or the branch it is already in without an
    operator, is refused (422)."""
    service = ConversationService(session=db)
    if not can_see(actor, conversation):
        raise NotFoundError(N_("No such conversation."))
    if branch_id is None and operator_id is None:
        raise InvalidInputError(N_("Choose a branch or an operator to transfer to."))
    text = clean_body(note) if note.strip() else ""
    target_branch: Branch | None = None
    if branch_id is not None:
        target_branch = await db.get(Branch, branch_id)
        if target_branch is None or not target_branch.is_active:
            raise InvalidInputError(N_("Choose an active branch."))
    operator: User | None = None
    if operator_id is not None:
        operator = await db.scalar(select(User).where(User.id == operator_id))
        if operator is None or not operator.is_active:
            raise InvalidInputError(N_("Only an active operator can be assigned."))
        if target_branch is None:
            if conversation.branch_id in operator.branch_ids:
                target_branch = await db.get(Branch, conversation.branch_id)
            elif operator.branches:
                target_branch = operator.branches[0]
        if (
            target_branch is None
            or not target_branch.is_active
            or target_branch.id not in operator.branch_ids
        ):
            raise InvalidInputError(
                N_("%(name)s is not an operator of this conversation's branch."),
                params={"name": operator.name},
            )
    if target_branch is None:  # only a branch was asked for, and it was checked above
        raise InvalidInputError(N_("Choose an active branch."))
    if operator is None and target_branch.id == conversation.branch_id:
        raise InvalidInputError(N_("The conversation is already in this branch."))
    old_branch_id = conversation.branch_id
    conversation.branch_id = target_branch.id
    conversation.assignee_id = operator.id if operator is not None else None
    await db.flush()
    await db.refresh(conversation, attribute_names=["branch", "assignee"])
    await service.append(
        conversation, sender=MessageSender.SYSTEM, kind=MessageKind.EVENT, body=TRANSFERRED
    )
    if text:
        # Staff only: the actor's word to the new branch or operator.
        await service.append(
            conversation,
            sender=MessageSender.OPERATOR,
            kind=MessageKind.NOTE,
            body=text,
            author=actor,
        )
    data = {
        "conversation_id": str(conversation.id),
        "transferred": True,
        "assignee": conversation.assignee_id,
    }
    record(
        db,
        DomainEvent(
            "status",
            conversation.id,
            conversation.visitor_id,
            target_branch.id,
            data=data,
            to_visitor=False,
        ),
    )
    if old_branch_id != target_branch.id:
        # The old branch's screens drop it: their streams send its row's removal to those
        # who cannot see the new branch (``moved_to``).
        record(
            db,
            DomainEvent(
                "status",
                conversation.id,
                conversation.visitor_id,
                old_branch_id,
                data={**data, "moved_to": target_branch.id},
                to_visitor=False,
            ),
        )
    return conversation
