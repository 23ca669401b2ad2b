"""The plain rules of conversations: who may see one (branch scope) and what a message body
may be. Used by the services, the list queries, the streams and the request schemas."""

from __future__ import annotations

from sqlalchemy import Select

from messenger.conversations.actors import Actor
from messenger.db.models import Conversation
from messenger.errors import InvalidInputError
from messenger.i18n import N_

#: The longest message body, in characters: the request schemas and clean_body agree.
MAX_BODY_LENGTH = 10_000


def in_scope(user: Actor, branch_id: int | None) -> bool:
    """Branch scope: admins see everything; an operator only their branches' conversations
    (a conversation no branch took is for admins only). An integration's token sees its
    branches, or every branch when it names none (:mod:`messenger.conversations.actors`)."""
    if not user.is_active:
        return False
    if user.is_admin:
        return True
    return branch_id is not None and branch_id in user.branch_ids


def can_see(user: Actor, conversation: Conversation) -> bool:
    return in_scope(user, conversation.branch_id)


def scope_query(query: Select[tuple[Conversation]], user: Actor) -> Select[tuple[Conversation]]:
    """Restrict a conversation query to what ``user`` may see (the list views' filter)."""
    if not user.is_active:
        return query.where(Conversation.id.is_(None))
    if user.is_admin:
        return query
    return query.where(Conversation.branch_id.in_(user.branch_ids or {-1}))


def clean_body(body: str) -> str:
    if "\x00" in body:
        raise InvalidInputError(N_("A message cannot contain NUL characters."))
    text = body.strip()
    if not text:
        raise InvalidInputError(N_("A message cannot be empty."))
    if len(text) > MAX_BODY_LENGTH:
        raise InvalidInputError(
            N_("A message may have at most %(count)d characters."),
            params={"count": MAX_BODY_LENGTH},
        )
    return text
