"""Saved replies: who sees which, who manages which, and the text an insert produces.

Scopes (the ``saved_replies`` row says which):

- **global**: no branch, no owner — every member of staff sees it;
- **branch**: ``branch_id`` — the members of that branch see it;
- **personal**: ``owner_id`` — its owner only.

In the composer an operator (admins too) sees the global replies, their branches' and their
own. Managing (the saved replies page): an admin creates, edits and deletes replies of every
scope; an operator manages their own personal replies only — branch and global replies are
shared texts of a team, so an admin keeps them. A reply someone may not manage is a 404 to
them, like every other out-of-scope record. Nothing here commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db import audit
from messenger.db.models import Branch, SavedReply, User
from messenger.errors import InvalidInputError, NotFoundError
from messenger.i18n import N_

Scope = Literal["personal", "branch", "global"]
SCOPES: tuple[Scope, ...] = ("personal", "branch", "global")
MAX_SHORTCUT_LENGTH = 40
MAX_BODY_LENGTH = 5000
#: The most replies the composer's popup lists at once.
SUGGESTIONS = 20
#: The most replies the page lists.
PAGE_LIMIT = 500
_SHORTCUT = re.compile(r"^[\w-]{1,40}$")
PLACEHOLDERS = ("{visitor_name}", "{operator_name}")


@dataclass(frozen=True, slots=True)
class Draft:
    """What a form asks for: the reply's text and scope (``branch_id`` for a branch one)."""

    shortcut: str
    body: str
    scope: str = "personal"  # one of SCOPES; anything else is refused
    branch_id: int | None = None


def scope_of(reply: SavedReply) -> Scope:
    if reply.owner_id is not None:
        return "personal"
    return "branch" if reply.branch_id is not None else "global"


def fill(body: str, *, visitor_name: str | None, operator_name: str | None) -> str:
    """The reply's text with its placeholders filled (an unknown name: left out)."""
    return body.replace("{visitor_name}", visitor_name or "").replace(
        "{operator_name}", operator_name or ""
    )


def visible_to(user: User) -> ColumnElement[bool]:
    """The composer's rule: global, the user's branches', the user's own."""
    branch_ids = sorted(user.branch_ids)
    return or_(
        and_(SavedReply.branch_id.is_(None), SavedReply.owner_id.is_(None)),
        SavedReply.branch_id.in_(branch_ids) if branch_ids else false(),
        SavedReply.owner_id == user.id,
    )


def manageable_by(user: User) -> ColumnElement[bool]:
    """The page's rule: an admin every reply, an operator their personal ones."""
    if user.is_admin:
        return SavedReply.id.is_not(None)
    return SavedReply.owner_id == user.id


class SavedReplyService:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def suggestions(self, user: User, typed: str) -> list[SavedReply]:
        """Replies the user sees whose shortcut starts with ``typed`` (any case), the
        closest scope first (personal, branch, global), then by shortcut."""
        query = select(SavedReply).where(visible_to(user))
        typed = typed.strip().lower()[:MAX_SHORTCUT_LENGTH]
        if typed:
            escaped = typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(func.lower(SavedReply.shortcut).like(escaped + "%", escape="\\"))
        query = query.order_by(
            SavedReply.owner_id.is_(None),
            SavedReply.branch_id.is_(None),
            SavedReply.shortcut,
            SavedReply.id,
        ).limit(SUGGESTIONS)
        return list(await self.db.scalars(query))

    async def manageable(self, user: User) -> list[SavedReply]:
        query = (
            select(SavedReply)
            .where(manageable_by(user))
            .order_by(SavedReply.shortcut, SavedReply.id)
            .limit(PAGE_LIMIT)
        )
        return list(await self.db.scalars(query))

    async def require_manageable(self, user: User, reply_id: int) -> SavedReply:
        reply = await self.db.scalar(
            select(SavedReply).where(SavedReply.id == reply_id, manageable_by(user))
        )
        if reply is None:
            raise NotFoundError(
                N_("There is no saved reply with id %(id)s."), params={"id": reply_id}
            )
        return reply

    async def _checked(self, user: User, draft: Draft) -> tuple[str, str, int | None, int | None]:
        shortcut = draft.shortcut.strip().lstrip("/")
        body = draft.body.strip()
        if not _SHORTCUT.match(shortcut):
            raise InvalidInputError(
                N_("A shortcut is 1 to 40 letters, digits, hyphens or underscores.")
            )
        if not body or len(body) > MAX_BODY_LENGTH:
            raise InvalidInputError(N_("A saved reply needs a text of 1 to 5000 characters."))
        if draft.scope not in SCOPES:
            raise InvalidInputError(N_("Choose who the saved reply is for."))
        if draft.scope != "personal" and not user.is_admin:
            raise InvalidInputError(N_("Only an admin manages branch and global saved replies."))
        if draft.scope == "personal":
            return shortcut, body, None, user.id
        if draft.scope == "global":
            return shortcut, body, None, None
        if draft.branch_id is None or await self.db.get(Branch, draft.branch_id) is None:
            raise InvalidInputError(N_("Choose the branch of the saved reply."))
        return shortcut, body, draft.branch_id, None

    async def create(self, user: User, draft: Draft) -> SavedReply:
        shortcut, body, branch_id, owner_id = await self._checked(user, draft)
        reply = SavedReply(shortcut=shortcut, body=body, branch_id=branch_id, owner_id=owner_id)
        self.db.add(reply)
        await self.db.flush()
        self._audit("saved_reply.create", reply, None)
        return reply

    def _audit(self, action: str, reply: SavedReply, before: dict[str, Any] | None) -> None:
        """Shared (branch or global) replies are configuration: audited; personal ones not."""
        after = _reply_fields(reply)
        if reply.owner_id is not None and (before is None or before["owner_id"] is not None):
            return
        changes = {"after": after} if before is None else audit.diff(before, after)
        if action.endswith(".delete"):
            changes = {"before": after}
        audit.record(self.db, action, f"saved_reply:{reply.id}", changes)

    async def update(self, user: User, reply_id: int, draft: Draft) -> SavedReply:
        """A new text (and, for an admin, scope); a personal reply keeps its owner."""
        reply = await self.require_manageable(user, reply_id)
        shortcut, body, branch_id, owner_id = await self._checked(user, draft)
        if draft.scope == "personal" and reply.owner_id is not None:
            owner_id = reply.owner_id  # an admin editing someone's personal reply
        before = _reply_fields(reply)
        reply.shortcut, reply.body = shortcut, body
        reply.branch_id, reply.owner_id = branch_id, owner_id
        await self.db.flush()
        self._audit("saved_reply.update", reply, before)
        return reply

    async def delete(self, user: User, reply_id: int) -> None:
        reply = await self.require_manageable(user, reply_id)
        self._audit("saved_reply.delete", reply, None)
        await self.db.delete(reply)
        await self.db.flush()


def _reply_fields(reply: SavedReply) -> dict[str, Any]:
    return {
        "shortcut": reply.shortcut,
        "body": reply.body,
        "branch_id": reply.branch_id,
        "owner_id": reply.owner_id,
    }
