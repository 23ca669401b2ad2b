"""Admin pages: inboxes (settings, token, snippet, routing rules), branches, operators.

Operators get 404 on every admin page. Form input is turned into the same documents the
services validate; a refusal re-renders the form with the reason (400), nothing half-saved.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.service import UserService, check_password_policy
from messenger.branches.service import BranchService
from messenger.dashboard.deps import AnyRequest, require_admin
from messenger.dashboard.sessions import provide_current_user
from messenger.db.models import Branch, Inbox, RoutingRule, User, UserRole
from messenger.errors import DomainError, InvalidInputError
from messenger.i18n import gettext as _
from messenger.inboxes.allowlist import risky_domains
from messenger.inboxes.service import InboxService, embed_snippet, inbox_settings
from messenger.inboxes.settings import WEEKDAYS
from messenger.routing.conditions import parse_conditions

CurrentUser = NamedDependency[User]
DB = NamedDependency[AsyncSession]


async def provide_admin(request: AnyRequest, db_session: DB) -> User:
    user = await provide_current_user(request, db_session)
    require_admin(user)
    return user


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


async def _rolled_back(db: AsyncSession, *rows: Any) -> None:
    """Roll back, and reload the rows the page renders next: a rollback expires every
    loaded row, and a template cannot lazy-load on an async session (that was a 500)."""
    await db.rollback()
    for row in rows:
        await db.refresh(row)


async def _form(request: AnyRequest) -> FormMultiDict:
    return await request.form()


def settings_from_form(form: FormMultiDict) -> dict[str, Any]:
    """The inbox settings document from the edit form (validated by the service)."""
    week: dict[str, list[dict[str, str]]] = {}
    for day in WEEKDAYS:
        for span in _lines(form.get(f"hours_{day}", "")):
            start, sep, end = span.partition("-")
            if not sep:
                raise InvalidInputError(_("Working hours: write intervals like 09:00-18:00."))
            week.setdefault(day, []).append({"start": start.strip(), "end": end.strip()})
    try:
        max_kb = int(form.get("attachments_max_kb", "10240") or "10240")
    except ValueError:
        raise InvalidInputError(_("The attachment size limit must be a number.")) from None
    return {
        "security": {"allowed_domains": _lines(form.get("allowed_domains", ""))},
        "privacy": {
            "url": form.get("privacy_url", "").strip() or None,
            "text": form.get("privacy_text", "").strip() or None,
        },
        "working_hours": None
        if form.get("always_open")
        else {"timezone": form.get("timezone", "UTC").strip() or "UTC", "week": week},
        "offline": {"message": form.get("offline_message", "").strip() or None},
        "attachments": {
            "enabled": bool(form.get("attachments_enabled")),
            "max_bytes": max_kb * 1024,
            "content_types": _lines(form.get("attachments_types", "")),
        },
        "locale": form.get("locale") or None,
        "greeting": form.get("greeting", "").strip() or None,
        "appearance": {
            "color": form.get("color", "#2563eb").strip() or "#2563eb",
            "position": form.get("position", "right"),
            "title": form.get("title", "").strip() or None,
        },
    }


class AdminController(Controller):
    path = "/admin"
    include_in_schema = False
    dependencies = {"current_user": Provide(provide_admin)}

    # --- inboxes ---------------------------------------------------------------------------

    async def _inboxes_page(
        self, db: AsyncSession, user: User, error: str | None = None, status_code: int = 200
    ) -> Template:
        inboxes = list((await db.execute(select(Inbox).order_by(Inbox.name))).scalars())
        risky = {i.id: risky_domains(inbox_settings(i).security.allowed_domains) for i in inboxes}
        return Template(
            "admin/inboxes.html",
            context={
                "user": user,
                "inboxes": inboxes,
                "risky": risky,
                "branches": await self._branches(db),
                "error": error,
            },
            status_code=status_code,
        )

    async def _branches_page(
        self, db: AsyncSession, user: User, error: str | None = None, status_code: int = 200
    ) -> Template:
        return Template(
            "admin/branches.html",
            context={"user": user, "branches": await self._branches(db), "error": error},
            status_code=status_code,
        )

    async def _branches(self, db: AsyncSession) -> list[Branch]:
        return list((await db.execute(select(Branch).order_by(Branch.name))).scalars())

    async def _inbox_page(
        self,
        request: AnyRequest,
        db: AsyncSession,
        user: User,
        inbox: Inbox,
        error: str | None = None,
        status_code: int = 200,
        saved: bool = False,
    ) -> Template:
        settings = inbox_settings(inbox)
        rules = (
            await db.execute(
                select(RoutingRule)
                .where(RoutingRule.inbox_id == inbox.id)
                .order_by(RoutingRule.position, RoutingRule.id)
            )
        ).scalars()
        return Template(
            "admin/inbox.html",
            context={
                "user": user,
                "inbox": inbox,
                "settings": settings,
                "weekdays": WEEKDAYS,
                "branches": await self._branches(db),
                "rules": list(rules),
                "snippet": embed_snippet(inbox, request.app.state.settings.public_url),
                "risky": risky_domains(settings.security.allowed_domains),
                "error": error,
                "saved": saved,
            },
            status_code=status_code,
        )

    @get("/inboxes", name="admin_inboxes")
    async def inboxes(self, db_session: DB, current_user: CurrentUser) -> Template:
        return await self._inboxes_page(db_session, current_user)

    @post("/inboxes", name="admin_inbox_create", status_code=303)
    async def create_inbox(
        self, request: AnyRequest, db_session: DB, current_user: CurrentUser
    ) -> Redirect | Template:
        form = await _form(request)
        branches = BranchService(session=db_session)
        try:
            branch_id = _int_or_none(form.get("branch_id"))
            branch = await branches.require(branch_id) if branch_id else None
            inbox = await InboxService(session=db_session).create_inbox(
                name=form.get("name", ""),
                domains=_lines(form.get("allowed_domains", "")),
                branch=branch,
            )
        except DomainError as exc:
            return await self._inboxes_page(db_session, current_user, exc.translated(), 400)
        return Redirect(f"/admin/inboxes/{inbox.id}", status_code=303)

    @get("/inboxes/{inbox_id:int}", name="admin_inbox")
    async def inbox(
        self,
        request: AnyRequest,
        db_session: DB,
        current_user: CurrentUser,
        inbox_id: FromPath[int],
    ) -> Template:
        inbox = await InboxService(session=db_session).require(inbox_id)
        return await self._inbox_page(request, db_session, current_user, inbox)

    @post("/inboxes/{inbox_id:int}", name="admin_inbox_save", status_code=200)
    async def save_inbox(
        self,
        request: AnyRequest,
        db_session: DB,
        current_user: CurrentUser,
        inbox_id: FromPath[int],
    ) -> Template:
        service = InboxService(session=db_session)
        inbox = await service.require(inbox_id)
        form = await _form(request)
        try:
            name = form.get("name", "").strip()
            if not name or len(name) > 200:
                raise InvalidInputError(_("An inbox needs a name of 1 to 200 characters."))
            document = settings_from_form(form)
            branch_id = _int_or_none(form.get("branch_id"))
            fallback_id = _int_or_none(form.get("fallback_branch_id"))
            branches = BranchService(session=db_session)
            if branch_id:
                await branches.require(branch_id)
            if fallback_id:
                await branches.require(fallback_id)
            inbox.settings = document  # validated here by the model
            inbox.name = name
            inbox.branch_id = branch_id
            inbox.fallback_branch_id = None if branch_id else fallback_id
            inbox.is_active = bool(form.get("is_active"))
            await db_session.commit()
        except DomainError as exc:
            await _rolled_back(db_session, current_user)
            inbox = await service.require(inbox_id)
            return await self._inbox_page(
                request, db_session, current_user, inbox, error=exc.translated(), status_code=400
            )
        await db_session.refresh(inbox, attribute_names=["branch", "fallback_branch"])
        return await self._inbox_page(request, db_session, current_user, inbox, saved=True)

    @post("/inboxes/{inbox_id:int}/rotate-token", name="admin_inbox_rotate", status_code=303)
    async def rotate(
        self, db_session: DB, current_user: CurrentUser, inbox_id: FromPath[int]
    ) -> Redirect:
        await InboxService(session=db_session).rotate_token(inbox_id)
        return Redirect(f"/admin/inboxes/{inbox_id}", status_code=303)

    @post("/inboxes/{inbox_id:int}/rules", name="admin_rule_add", status_code=200)
    async def add_rule(
        self,
        request: AnyRequest,
        db_session: DB,
        current_user: CurrentUser,
        inbox_id: FromPath[int],
    ) -> Template:
        inbox = await InboxService(session=db_session).require(inbox_id)
        form = await _form(request)
        try:
            target = await BranchService(session=db_session).require(
                _int_or_none(form.get("target_branch_id")) or 0
            )
            conditions = parse_conditions(
                {
                    "countries": _lines(form.get("countries", "")),
                    "cities": _lines(form.get("cities", "")),
                    "page_urls": _lines(form.get("page_urls", "")),
                    "languages": _lines(form.get("languages", "")),
                }
            )
            last = await db_session.scalar(
                select(RoutingRule.position)
                .where(RoutingRule.inbox_id == inbox.id)
                .order_by(RoutingRule.position.desc())
                .limit(1)
            )
            db_session.add(
                RoutingRule(
                    inbox_id=inbox.id,
                    position=(last or 0) + 1,
                    name=form.get("name", "").strip()[:200],
                    conditions=msgspec.to_builtins(conditions),
                    target_branch_id=target.id,
                )
            )
            await db_session.commit()
        except DomainError as exc:
            await _rolled_back(db_session, current_user, inbox)
            return await self._inbox_page(
                request, db_session, current_user, inbox, error=exc.translated(), status_code=400
            )
        return await self._inbox_page(request, db_session, current_user, inbox, saved=True)

    @post(
        "/inboxes/{inbox_id:int}/rules/{rule_id:int}/{action:str}",
        name="admin_rule_action",
        status_code=303,
    )
    async def rule_action(
        self,
        db_session: DB,
        current_user: CurrentUser,
        inbox_id: FromPath[int],
        rule_id: FromPath[int],
        action: FromPath[str],
    ) -> Redirect:
        rules = list(
            (
                await db_session.execute(
                    select(RoutingRule)
                    .where(RoutingRule.inbox_id == inbox_id)
                    .order_by(RoutingRule.position, RoutingRule.id)
                )
            ).scalars()
        )
        index = next((i for i, r in enumerate(rules) if r.id == rule_id), None)
        if index is None:
            raise InvalidInputError(_("No such routing rule."))
        if action == "delete":
            await db_session.delete(rules.pop(index))
        elif action == "up" and index > 0:
            rules[index - 1], rules[index] = rules[index], rules[index - 1]
        elif action == "down" and index < len(rules) - 1:
            rules[index + 1], rules[index] = rules[index], rules[index + 1]
        for position, rule in enumerate(rules, start=1):
            rule.position = position
        await db_session.commit()
        return Redirect(f"/admin/inboxes/{inbox_id}#routing", status_code=303)

    # --- branches --------------------------------------------------------------------------

    @get("/branches", name="admin_branches")
    async def branches(self, db_session: DB, current_user: CurrentUser) -> Template:
        return await self._branches_page(db_session, current_user)

    @post("/branches", name="admin_branch_create", status_code=303)
    async def create_branch(
        self, request: AnyRequest, db_session: DB, current_user: CurrentUser
    ) -> Redirect | Template:
        form = await _form(request)
        try:
            await BranchService(session=db_session).create_branch(form.get("name", ""))
        except DomainError as exc:
            return await self._branches_page(db_session, current_user, exc.translated(), 400)
        return Redirect("/admin/branches", status_code=303)

    @post("/branches/{branch_id:int}", name="admin_branch_save", status_code=303)
    async def save_branch(
        self,
        request: AnyRequest,
        db_session: DB,
        current_user: CurrentUser,
        branch_id: FromPath[int],
    ) -> Redirect | Template:
        form = await _form(request)
        branch = await BranchService(session=db_session).require(branch_id)
        name = form.get("name", branch.name).strip()
        clash = await db_session.scalar(
            # Case-insensitive, like creating a branch ("alpha" clashes with "Alpha").
            select(Branch).where(func.lower(Branch.name) == name.lower(), Branch.id != branch.id)
        )
        if not name or len(name) > 200 or clash is not None:
            return await self._branches_page(
                db_session,
                current_user,
                _("A branch needs a unique name of 1 to 200 characters."),
                400,
            )
        branch.name = name
        branch.is_active = bool(form.get("is_active"))
        await db_session.commit()
        return Redirect("/admin/branches", status_code=303)

    # --- operators -------------------------------------------------------------------------

    async def _operators_page(
        self, db: AsyncSession, user: User, error: str | None = None, status_code: int = 200
    ) -> Template:
        users = list((await db.execute(select(User).order_by(User.name))).scalars())
        return Template(
            "admin/operators.html",
            context={
                "user": user,
                "users": users,
                "branches": await self._branches(db),
                "roles": [r.value for r in UserRole],
                "error": error,
            },
            status_code=status_code,
        )

    @get("/operators", name="admin_operators")
    async def operators(self, db_session: DB, current_user: CurrentUser) -> Template:
        return await self._operators_page(db_session, current_user)

    @post("/operators", name="admin_operator_create", status_code=303)
    async def create_operator(
        self, request: AnyRequest, db_session: DB, current_user: CurrentUser
    ) -> Redirect | Template:
        form = await _form(request)
        try:
            role = UserRole(form.get("role", "operator"))
            branch_ids = [int(b) for b in form.getall("branch_ids", []) if b.isdigit()]
            branches = await BranchService(session=db_session).require_all(branch_ids)
            if role == UserRole.OPERATOR and not branches:
                raise InvalidInputError(_("An operator needs at least one branch."))
            await UserService(session=db_session).create_user(
                email=form.get("email", ""),
                name=form.get("name", ""),
                password=form.get("password", ""),
                role=role,
                branches=branches,
            )
        except (DomainError, ValueError) as exc:
            detail = exc.translated() if isinstance(exc, DomainError) else _("Unknown role.")
            return await self._operators_page(db_session, current_user, detail, 400)
        return Redirect("/admin/operators", status_code=303)

    @post("/operators/{user_id:int}", name="admin_operator_save", status_code=303)
    async def save_operator(
        self, request: AnyRequest, db_session: DB, current_user: CurrentUser, user_id: FromPath[int]
    ) -> Redirect | Template:
        form = await _form(request)
        users = UserService(session=db_session)
        try:
            target = await users.require(user_id)
            role = UserRole(form.get("role", target.role.value))
            branches = await BranchService(session=db_session).require_all(
                [int(b) for b in form.getall("branch_ids", []) if b.isdigit()]
            )
            if role == UserRole.OPERATOR and not branches:
                raise InvalidInputError(_("An operator needs at least one branch."))
            active = bool(form.get("is_active"))
            if target.id == current_user.id and (not active or role != UserRole.ADMIN):
                raise InvalidInputError(
                    _("You cannot deactivate yourself or take away your own admin role.")
                )
            name = form.get("name", target.name).strip()
            if not name or len(name) > 200:
                raise InvalidInputError(_("A user needs a name of 1 to 200 characters."))
            password = form.get("password", "")
            if password:
                check_password_policy(password)  # before anything is saved
            target.name = name
            target.role = role
            target.is_active = active
            target.branches = branches
            await db_session.commit()
            if password:
                await users.set_password(target.id, password)
        except (DomainError, ValueError) as exc:
            await db_session.rollback()
            detail = exc.translated() if isinstance(exc, DomainError) else _("Unknown role.")
            return await self._operators_page(db_session, current_user, detail, 400)
        return Redirect("/admin/operators", status_code=303)
