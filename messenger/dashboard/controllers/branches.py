"""Admin: branches — the list, a new branch, rename and (de)activate."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.branches.service import BranchService
from messenger.dashboard.deps import DashboardRequest
from messenger.dashboard.forms import BranchCreateForm, BranchForm
from messenger.db.models import User
from messenger.errors import DomainError

CurrentUser = NamedDependency[User]
DB = NamedDependency[AsyncSession]


class BranchesController(Controller):
    path = "/branches"

    async def _page(
        self, db: AsyncSession, user: User, error: str | None = None, status_code: int = 200
    ) -> Template:
        return Template(
            "admin/branches.html",
            context={
                "user": user,
                "branches": await BranchService(session=db).ordered(),
                "error": error,
            },
            status_code=status_code,
        )

    @get("/", name="admin_branches")
    async def branches(self, db_session: DB, current_user: CurrentUser) -> Template:
        return await self._page(db_session, current_user)

    @post("/", name="admin_branch_create", status_code=303)
    async def create_branch(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        data: URLEncodedBody[BranchCreateForm],
    ) -> Redirect | Template:
        try:
            await BranchService(session=db_session).create_branch(data.name)
        except DomainError as exc:
            return await self._page(db_session, current_user, exc.translated(), 400)
        return Redirect(request.app.route_reverse("admin_branches"), status_code=303)

    @post("/{branch_id:int}", name="admin_branch_save", status_code=303)
    async def save_branch(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        branch_id: FromPath[int],
        data: URLEncodedBody[BranchForm],
    ) -> Redirect | Template:
        branches = BranchService(session=db_session)
        branch = await branches.require(branch_id)
        try:
            await branches.rename(branch.id, branch.name if data.name is None else data.name)
        except DomainError as exc:
            return await self._page(db_session, current_user, exc.translated(), 400)
        await branches.set_active(branch.id, active=bool(data.is_active))
        return Redirect(request.app.route_reverse("admin_branches"), status_code=303)
