"""Admin: staff users — the list, a new operator or admin, role, branches, activity, password."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.service import UserService, check_membership, parse_role
from messenger.branches.service import BranchService
from messenger.dashboard.deps import DashboardRequest
from messenger.dashboard.forms import OperatorCreateForm, OperatorForm, ids
from messenger.db.models import User, UserRole
from messenger.errors import DomainError

CurrentUser = NamedDependency[User]
DB = NamedDependency[AsyncSession]


class OperatorsController(Controller):
    path = "/operators"

    async def _page(
        self, db: AsyncSession, user: User, error: str | None = None, status_code: int = 200
    ) -> Template:
        return Template(
            "admin/operators.html",
            context={
                "user": user,
                "users": await UserService(session=db).staff(),
                "branches": await BranchService(session=db).ordered(),
                "roles": [r.value for r in UserRole],
                "error": error,
            },
            status_code=status_code,
        )

    @get("/", name="admin_operators")
    async def operators(self, db_session: DB, current_user: CurrentUser) -> Template:
        return await self._page(db_session, current_user)

    @post("/", name="admin_operator_create", status_code=303)
    async def create_operator(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        data: URLEncodedBody[OperatorCreateForm],
    ) -> Redirect | Template:
        try:
            role = parse_role(data.role)
            branches = await BranchService(session=db_session).require_all(ids(data.branch_ids))
            check_membership(role, branches)
            await UserService(session=db_session).create_user(
                email=data.email,
                name=data.name,
                password=data.password,
                role=role,
                branches=branches,
            )
        except DomainError as exc:
            return await self._page(db_session, current_user, exc.translated(), 400)
        return Redirect(request.app.route_reverse("admin_operators"), status_code=303)

    @post("/{user_id:int}", name="admin_operator_save", status_code=303)
    async def save_operator(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        user_id: FromPath[int],
        data: URLEncodedBody[OperatorForm],
    ) -> Redirect | Template:
        """Save the whole form, or nothing (a refusal answers 400: the request rolls back)."""
        users = UserService(session=db_session)
        try:
            target = await users.require(user_id)
            await users.update_staff(
                target.id,
                actor=current_user,
                name=target.name if data.name is None else data.name,
                role=target.role if data.role is None else parse_role(data.role),
                active=bool(data.is_active),
                branches=await BranchService(session=db_session).require_all(ids(data.branch_ids)),
                password=data.password,
            )
            if data.capacity is not None:
                await users.set_capacity(target.id, data.capacity)
        except DomainError as exc:
            return await self._page(db_session, current_user, exc.translated(), 400)
        return Redirect(request.app.route_reverse("admin_operators"), status_code=303)
