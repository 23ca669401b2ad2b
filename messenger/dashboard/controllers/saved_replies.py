"""Saved replies: the page that manages them, and the composer's suggestions.

The rules (scopes, who sees and manages what, placeholders) are
:mod:`messenger.replies.service`'s; this controller parses, calls it and renders.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.branches.service import BranchService
from messenger.conversations.service import ConversationService
from messenger.dashboard.deps import DashboardRequest
from messenger.db.models import User
from messenger.errors import DomainError
from messenger.replies.service import (
    MAX_BODY_LENGTH,
    MAX_SHORTCUT_LENGTH,
    SCOPES,
    Draft,
    SavedReplyService,
    fill,
    scope_of,
)

CurrentUser = NamedDependency[User]
DB = NamedDependency[AsyncSession]


class SavedReplyForm(msgspec.Struct):
    shortcut: Annotated[str, msgspec.Meta(max_length=MAX_SHORTCUT_LENGTH + 1)] = ""
    body: Annotated[str, msgspec.Meta(max_length=MAX_BODY_LENGTH + 100)] = ""
    scope: Annotated[str, msgspec.Meta(max_length=20)] = "personal"
    branch_id: Annotated[str, msgspec.Meta(max_length=20)] = ""

    def draft(self) -> Draft:
        branch_id = int(self.branch_id) if self.branch_id.isdigit() else None
        return Draft(self.shortcut, self.body, self.scope, branch_id)


class Suggestion(msgspec.Struct):
    id: int
    shortcut: str
    text: str


class SavedRepliesController(Controller):
    path = "/saved-replies"

    async def _page(
        self,
        db: AsyncSession,
        user: User,
        error: str | None = None,
        status_code: int = 200,
        form: SavedReplyForm | None = None,
    ) -> Template:
        replies = await SavedReplyService(db).manageable(user)
        branches = await BranchService(session=db).ordered() if user.is_admin else []
        context: dict[str, Any] = {
            "user": user,
            "replies": [(reply, scope_of(reply)) for reply in replies],
            "branches": branches,
            "branch_names": {b.id: b.name for b in branches},
            "scopes": SCOPES if user.is_admin else ("personal",),
            "error": error,
            "form": form or SavedReplyForm(),
        }
        return Template("dashboard/saved_replies.html", context=context, status_code=status_code)

    @get("/", name="saved_replies")
    async def replies(self, db_session: DB, current_user: CurrentUser) -> Template:
        return await self._page(db_session, current_user)

    @post("/", name="saved_reply_create", status_code=303)
    async def create(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        data: URLEncodedBody[SavedReplyForm],
    ) -> Redirect | Template:
        try:
            await SavedReplyService(db_session).create(current_user, data.draft())
        except DomainError as exc:
            return await self._page(db_session, current_user, exc.translated(), 400, data)
        return Redirect(request.app.route_reverse("saved_replies"), status_code=303)

    @post("/{reply_id:int}", name="saved_reply_save", status_code=303)
    async def save(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        reply_id: FromPath[int],
        data: URLEncodedBody[SavedReplyForm],
    ) -> Redirect | Template:
        service = SavedReplyService(db_session)
        await service.require_manageable(current_user, reply_id)  # 404 first
        try:
            await service.update(current_user, reply_id, data.draft())
        except DomainError as exc:
            return await self._page(db_session, current_user, exc.translated(), 400)
        return Redirect(request.app.route_reverse("saved_replies"), status_code=303)

    @post("/{reply_id:int}/delete", name="saved_reply_delete", status_code=303)
    async def delete(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        reply_id: FromPath[int],
    ) -> Redirect:
        await SavedReplyService(db_session).delete(current_user, reply_id)
        return Redirect(request.app.route_reverse("saved_replies"), status_code=303)

    @get(
        "/for/{conversation_id:uuid}",
        name="saved_reply_suggestions",
        cache=False,
    )
    async def suggestions(
        self,
        db_session: DB,
        current_user: CurrentUser,
        conversation_id: FromPath[UUID],
        q: Annotated[str, QueryParameter(max_length=MAX_SHORTCUT_LENGTH)] = "",
    ) -> list[Suggestion]:
        """The composer's popup: replies the operator sees whose shortcut starts with ``q``,
        placeholders filled for this conversation (404 out of scope)."""
        conversation = await ConversationService(session=db_session).get_for_staff(
            conversation_id, current_user
        )
        visitor = conversation.visitor
        visitor_name = visitor.name if visitor is not None else None
        return [
            Suggestion(
                id=reply.id,
                shortcut=reply.shortcut,
                text=fill(reply.body, visitor_name=visitor_name, operator_name=current_user.name),
            )
            for reply in await SavedReplyService(db_session).suggestions(current_user, q)
        ]
