"""Admin: inboxes — the list, a new inbox, one inbox's settings, its widget token."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.branches.service import BranchService
from messenger.dashboard.deps import DashboardRequest
from messenger.dashboard.forms import InboxCreateForm, InboxForm, int_or_none, lines
from messenger.db.models import Inbox, User
from messenger.errors import DomainError
from messenger.inboxes.allowlist import risky_domains
from messenger.inboxes.service import InboxService, embed_snippet, inbox_settings
from messenger.inboxes.settings import WEEKDAYS
from messenger.routing.service import RoutingRuleService

CurrentUser = NamedDependency[User]
DB = NamedDependency[AsyncSession]
#: ``MESSENGER_PUBLIC_URL``: where the embed snippet points.
PublicUrl = NamedDependency[str]


async def inbox_page(
    public_url: str,
    db: AsyncSession,
    user: User,
    inbox: Inbox,
    *,
    error: str | None = None,
    status_code: int = 200,
    saved: bool = False,
) -> Template:
    """One inbox: embed snippet and token, the settings form, the routing rules."""
    settings = inbox_settings(inbox)
    return Template(
        "admin/inbox.html",
        context={
            "user": user,
            "inbox": inbox,
            "settings": settings,
            "weekdays": WEEKDAYS,
            "branches": await BranchService(session=db).ordered(),
            "rules": await RoutingRuleService(session=db).rules_of(inbox.id, with_branches=True),
            "snippet": embed_snippet(inbox, public_url),
            "risky": risky_domains(settings.security.allowed_domains),
            "error": error,
            "saved": saved,
        },
        status_code=status_code,
    )


class InboxesController(Controller):
    path = "/inboxes"

    async def _list_page(
        self, db: AsyncSession, user: User, error: str | None = None, status_code: int = 200
    ) -> Template:
        inboxes = await InboxService(session=db).ordered()
        risky = {i.id: risky_domains(inbox_settings(i).security.allowed_domains) for i in inboxes}
        return Template(
            "admin/inboxes.html",
            context={
                "user": user,
                "inboxes": inboxes,
                "risky": risky,
                "branches": await BranchService(session=db).ordered(),
                "error": error,
            },
            status_code=status_code,
        )

    @get("/", name="admin_inboxes")
    async def inboxes(self, db_session: DB, current_user: CurrentUser) -> Template:
        return await self._list_page(db_session, current_user)

    @post("/", name="admin_inbox_create", status_code=303)
    async def create_inbox(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        data: URLEncodedBody[InboxCreateForm],
    ) -> Redirect | Template:
        try:
            branch_id = int_or_none(data.branch_id)
            branch = (
                await BranchService(session=db_session).require(branch_id) if branch_id else None
            )
            inbox = await InboxService(session=db_session).create_inbox(
                name=data.name, domains=lines(data.allowed_domains), branch=branch
            )
        except DomainError as exc:
            return await self._list_page(db_session, current_user, exc.translated(), 400)
        return Redirect(
            request.app.route_reverse("admin_inbox", inbox_id=inbox.id), status_code=303
        )

    @get("/{inbox_id:int}", name="admin_inbox")
    async def inbox(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        public_url: PublicUrl,
        inbox_id: FromPath[int],
    ) -> Template:
        inbox = await InboxService(session=db_session).require(inbox_id)
        return await inbox_page(public_url, db_session, current_user, inbox)

    @post("/{inbox_id:int}", name="admin_inbox_save", status_code=200)
    async def save_inbox(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        public_url: PublicUrl,
        inbox_id: FromPath[int],
        data: URLEncodedBody[InboxForm],
    ) -> Template:
        """Save the whole form, or nothing: a refusal shows the reason over the stored values
        (the 400 rolls the request's transaction back)."""
        service = InboxService(session=db_session)
        inbox = await service.require(inbox_id)
        try:
            settings = data.settings()
            branches = BranchService(session=db_session)
            branch_id = int_or_none(data.branch_id)
            fallback_id = int_or_none(data.fallback_branch_id)
            inbox = await service.update_inbox(
                inbox_id,
                name=data.name,
                settings=settings,
                branch=await branches.require(branch_id) if branch_id else None,
                fallback_branch=await branches.require(fallback_id) if fallback_id else None,
                is_active=bool(data.is_active),
            )
        except DomainError as exc:
            return await inbox_page(
                public_url, db_session, current_user, inbox, error=exc.translated(), status_code=400
            )
        return await inbox_page(public_url, db_session, current_user, inbox, saved=True)

    @post("/{inbox_id:int}/rotate-token", name="admin_inbox_rotate", status_code=303)
    async def rotate(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        inbox_id: FromPath[int],
    ) -> Redirect:
        revoke = (await request.form()).get("revoke_sessions") == "1"
        await InboxService(session=db_session).rotate_token(inbox_id, revoke_sessions=revoke)
        return Redirect(
            request.app.route_reverse("admin_inbox", inbox_id=inbox_id), status_code=303
        )

    @post(
        "/{inbox_id:int}/rotate-identity-secret",
        name="admin_inbox_rotate_identity",
        status_code=303,
    )
    async def rotate_identity(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        inbox_id: FromPath[int],
    ) -> Redirect:
        await InboxService(session=db_session).rotate_identity_secret(inbox_id)
        return Redirect(
            request.app.route_reverse("admin_inbox", inbox_id=inbox_id) + "#identity",
            status_code=303,
        )
