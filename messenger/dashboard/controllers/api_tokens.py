"""Admin: API tokens of the integration API — the list (scope, last use), a new token
(shown once, on the answer to its form, never again), revoke."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.api_tokens.service import ApiTokenService
from messenger.branches.service import BranchService
from messenger.dashboard.deps import DashboardRequest
from messenger.dashboard.forms import ApiTokenCreateForm, ids
from messenger.db.models import User
from messenger.errors import DomainError

CurrentUser = NamedDependency[User]
DB = NamedDependency[AsyncSession]
#: The page that shows a new token must not be kept by the browser or a proxy.
NO_STORE = {"Cache-Control": "no-store"}


class ApiTokensController(Controller):
    path = "/api-tokens"

    async def _page(
        self,
        db: AsyncSession,
        user: User,
        *,
        error: str | None = None,
        issued: str | None = None,
        status_code: int = 200,
    ) -> Template:
        return Template(
            "admin/api_tokens.html",
            context={
                "user": user,
                "tokens": await ApiTokenService(session=db).ordered(),
                "branches": await BranchService(session=db).ordered(),
                "error": error,
                "issued": issued,
            },
            status_code=status_code,
            headers=NO_STORE,
        )

    @get("/", name="admin_api_tokens")
    async def tokens(self, db_session: DB, current_user: CurrentUser) -> Template:
        return await self._page(db_session, current_user)

    @post("/", name="admin_api_token_create", status_code=200)
    async def create_token(
        self, db_session: DB, current_user: CurrentUser, data: URLEncodedBody[ApiTokenCreateForm]
    ) -> Template:
        """The answer shows the token once (a redirect would have to keep it somewhere)."""
        try:
            issued = await ApiTokenService(session=db_session).issue(
                data.name, ids(data.branch_ids)
            )
        except DomainError as exc:
            return await self._page(
                db_session, current_user, error=exc.translated(), status_code=400
            )
        return await self._page(db_session, current_user, issued=issued.token)

    @post("/{token_id:int}/revoke", name="admin_api_token_revoke", status_code=303)
    async def revoke_token(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        token_id: FromPath[int],
    ) -> Redirect:
        await ApiTokenService(session=db_session).revoke(token_id)
        return Redirect(request.app.route_reverse("admin_api_tokens"), status_code=303)
