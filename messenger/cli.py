"""The ``messenger`` command line: migrations, serving, and the admin chores of setting up.

Every command exits non-zero with a one-line message on bad input and writes nothing
half-way (each command's writes are one transaction). ``--json`` prints a JSON document
for scripts instead of the human text.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import click
from advanced_alchemy.cli import add_migration_commands
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.service import UserService
from messenger.branches.service import BranchService
from messenger.config import Settings, SettingsError, get_settings
from messenger.db import alchemy_config
from messenger.db.models import Branch, Inbox, User, UserRole
from messenger.errors import DomainError
from messenger.inboxes.service import InboxService, embed_snippet, inbox_settings
from messenger.logs import logging_config

T = TypeVar("T")
# Raised by the driver while connecting (refused, unknown host, no such database); SQLAlchemy
# wraps errors of statements, not these.
CONNECT_ERRORS = (OSError, asyncpg.PostgresError)

DEMO_BRANCH = "Demo branch"
DEMO_INBOX = "Demo site"
DEMO_OPERATOR_EMAIL = "operator@demo.messenger.local"
DEMO_ADMIN_EMAIL = "admin@demo.messenger.local"
DEMO_DOMAINS = ["localhost", "127.0.0.1", "127.0.0.2", "[::1]"]


class CliError(click.ClickException):
    """A message for the person at the terminal, and exit status 1."""

    def format_message(self) -> str:
        return self.message


def load_settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)


def run_db(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    """Run ``work`` in one session; domain and database errors become clean CLI errors."""
    settings = load_settings()
    config = alchemy_config(settings)

    async def runner() -> T:
        try:
            async with config.get_session() as session:
                result = await work(session, settings)
                await session.commit()  # the command is the unit of work: services never commit
                return result
        finally:
            await config.get_engine().dispose()

    try:
        return asyncio.run(runner())
    except DomainError as exc:
        raise CliError(f"{exc.detail}") from None
    except (SQLAlchemyError, *CONNECT_ERRORS) as exc:
        raise CliError(
            f"the database refused the operation ({type(exc).__name__}); "
            "is it reachable and migrated ('messenger db upgrade')?"
        ) from None


def emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else text)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


# --- the group -----------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="messenger")
def main() -> None:
    """Messenger: the live chat of the CRM."""


@main.group("db")
@click.pass_context
def db_group(ctx: click.Context) -> None:
    """Database migrations (Alembic, through advanced-alchemy)."""
    ctx.ensure_object(dict)
    ctx.obj["configs"] = [alchemy_config(load_settings())]


add_migration_commands(db_group)


# --- check -------------------------------------------------------------------------------


@main.command()
@click.option("--lang", type=click.Choice(["ru", "en"]), help="Language of the reasons.")
@json_option
def check(lang: str | None, as_json: bool) -> None:
    """The release checklist: pass / warn / fail per item; exits 1 on any fail."""
    from messenger.checks import as_json as checks_json
    from messenger.checks import run_checks
    from messenger.i18n import gettext as _
    from messenger.i18n import use_locale

    settings = load_settings()
    with use_locale(lang or settings.default_locale):
        results = run_checks(settings)
        marks = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}
        text = "\n".join(f"{marks[r.status]}  {r.name}: {r.reason}" for r in results)
        failed = sum(r.status == "fail" for r in results)
        warned = sum(r.status == "warn" for r in results)
        summary = _("%(total)d checks: %(failed)d failed, %(warned)d warnings")
        text += "\n\n" + summary % {"total": len(results), "failed": failed, "warned": warned}
    emit(as_json, checks_json(results), text)
    if failed:
        sys.exit(1)


# --- serve ------------------------------------------------------------------------------


async def _check_startup(settings: Settings) -> None:
    from messenger.app import check_default_branch

    class _App:  # the start-up check reads only app.state
        def __init__(self) -> None:
            from litestar.datastructures import State

            self.state = State({"settings": settings, "alchemy_config": alchemy_config(settings)})

    app = _App()
    try:
        await check_default_branch(app)  # type: ignore[arg-type]
    finally:
        await app.state.alchemy_config.get_engine().dispose()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str, port: int, workers: int, reload: bool) -> None:
    """Serve the app with uvicorn.

    uvicorn's own proxy-header handling is off: the app decides from
    MESSENGER_TRUSTED_PROXIES whether to believe X-Forwarded-For.
    """
    import uvicorn

    settings = load_settings()
    try:
        asyncio.run(_check_startup(settings))
    except SettingsError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    except CONNECT_ERRORS as exc:
        raise CliError(
            f"cannot reach the database to check MESSENGER_DEFAULT_BRANCH_ID "
            f"({type(exc).__name__}: {exc})"
        ) from None
    if settings.embedded and workers > 1:
        raise CliError("--workers > 1 needs DATABASE_URL and REDIS_URL (shared state).")
    uvicorn.run(
        "messenger.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=False,
        server_header=False,
        log_config=logging_config(),
        access_log=False,
        timeout_graceful_shutdown=5,
    )


# --- branches -----------------------------------------------------------------------------


@main.group("branch")
def branch_group() -> None:
    """Branches (филиалы)."""


def _branch_dict(branch: Branch) -> dict[str, Any]:
    return {"id": branch.id, "name": branch.name, "is_active": branch.is_active}


@branch_group.command("create")
@click.option("--name", required=True)
@json_option
def branch_create(name: str, as_json: bool) -> None:
    """Create a branch."""

    async def work(session: AsyncSession, _: Settings) -> Branch:
        return await BranchService(session=session).create_branch(name)

    branch = run_db(work)
    emit(as_json, _branch_dict(branch), f"Created branch {branch.id}: {branch.name}")


@branch_group.command("list")
@json_option
def branch_list(as_json: bool) -> None:
    """List branches."""

    async def work(session: AsyncSession, _: Settings) -> list[Branch]:
        return list(await BranchService(session=session).list())

    branches = sorted(run_db(work), key=lambda b: b.id)
    rows = [_branch_dict(b) for b in branches]
    text = "\n".join(f"{b.id}\t{b.name}" for b in branches) or "No branches yet."
    emit(as_json, {"branches": rows}, text)


# --- users ----------------------------------------------------------------------------------


@main.group("user")
def user_group() -> None:
    """Staff users: operators and admins."""


def _user_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "is_active": user.is_active,
        "branch_ids": sorted(user.branch_ids),
    }


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError("--password-stdin read an empty line.")
        return password
    if not sys.stdin.isatty():
        raise CliError("no terminal to ask for the password; use --password-stdin.")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user_group.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in UserRole]), default="operator")
@click.option("--branch", "branch_ids", type=int, multiple=True, help="Branch id (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@json_option
def user_create(
    email: str,
    name: str,
    role: str,
    branch_ids: tuple[int, ...],
    password_stdin: bool,
    as_json: bool,
) -> None:
    """Create an operator or an admin."""
    if role == UserRole.OPERATOR and not branch_ids:
        raise CliError("an operator needs at least one --branch.")
    password = _read_password(password_stdin)

    async def work(session: AsyncSession, _: Settings) -> User:
        branches = await BranchService(session=session).require_all(list(branch_ids))
        return await UserService(session=session).create_user(
            email=email, name=name, password=password, role=UserRole(role), branches=branches
        )

    user = run_db(work)
    emit(as_json, _user_dict(user), f"Created {user.role.value} {user.id}: {user.email}")


# --- inboxes --------------------------------------------------------------------------------


@main.group("inbox")
def inbox_group() -> None:
    """Inboxes: one per site, each with its widget token and allowed domains."""


def _inbox_dict(inbox: Inbox, settings: Settings) -> dict[str, Any]:
    return {
        "id": inbox.id,
        "name": inbox.name,
        "widget_token": inbox.widget_token,
        "branch_id": inbox.branch_id,
        "fallback_branch_id": inbox.fallback_branch_id,
        "global": inbox.is_global,
        "allowed_domains": inbox_settings(inbox).security.allowed_domains,
        "embed_snippet": embed_snippet(inbox, settings.public_url),
    }


def _inbox_text(inbox: Inbox, settings: Settings, verb: str) -> str:
    data = _inbox_dict(inbox, settings)
    where = f"branch {inbox.branch_id}" if inbox.branch_id else "global"
    return "\n".join(
        [
            f"{verb} inbox {inbox.id}: {inbox.name} ({where})",
            f"Widget token: {inbox.widget_token}",
            "Allowed domains: "
            + (", ".join(data["allowed_domains"]) or "(none: every call is refused)"),
            "Embed snippet:",
            f"  {data['embed_snippet']}",
        ]
    )


@inbox_group.command("create")
@click.option("--name", required=True)
@click.option("--domain", "domains", multiple=True, help="Allowed domain (repeatable).")
@click.option("--branch", "branch_id", type=int, help="Branch id; omit for a global inbox.")
@click.option("--global", "is_global", is_flag=True, help="A global inbox, routed by rules.")
@click.option("--fallback-branch", "fallback_branch_id", type=int, help="Global inbox fallback.")
@json_option
def inbox_create(
    name: str,
    domains: tuple[str, ...],
    branch_id: int | None,
    is_global: bool,
    fallback_branch_id: int | None,
    as_json: bool,
) -> None:
    """Create an inbox; prints its widget token and embed snippet."""
    if branch_id is not None and is_global:
        raise CliError("choose --branch or --global, not both.")
    if branch_id is not None and fallback_branch_id is not None:
        raise CliError("--fallback-branch is only for a global inbox.")

    async def work(session: AsyncSession, settings: Settings) -> tuple[Inbox, Settings]:
        branches = BranchService(session=session)
        branch = await branches.require(branch_id) if branch_id is not None else None
        fallback = (
            await branches.require(fallback_branch_id) if fallback_branch_id is not None else None
        )
        inbox = await InboxService(session=session).create_inbox(
            name=name, domains=list(domains), branch=branch, fallback_branch=fallback
        )
        return inbox, settings

    inbox, settings = run_db(work)
    emit(as_json, _inbox_dict(inbox, settings), _inbox_text(inbox, settings, "Created"))


@inbox_group.command("list")
@json_option
def inbox_list(as_json: bool) -> None:
    """List inboxes with their tokens."""

    async def work(session: AsyncSession, settings: Settings) -> list[dict[str, Any]]:
        inboxes = sorted(await InboxService(session=session).list(), key=lambda i: i.id)
        return [_inbox_dict(inbox, settings) for inbox in inboxes]

    rows = run_db(work)
    text = "\n".join(
        f"{r['id']}\t{r['name']}\t{r['widget_token']}\t{','.join(r['allowed_domains'])}"
        for r in rows
    )
    emit(as_json, {"inboxes": rows}, text or "No inboxes yet.")


@inbox_group.command("rotate-token")
@click.argument("inbox_id", type=int)
@json_option
def inbox_rotate_token(inbox_id: int, as_json: bool) -> None:
    """Give an inbox a new widget token; the old one stops working at once."""

    async def work(session: AsyncSession, settings: Settings) -> tuple[Inbox, Settings]:
        return await InboxService(session=session).rotate_token(inbox_id), settings

    inbox, settings = run_db(work)
    emit(as_json, _inbox_dict(inbox, settings), _inbox_text(inbox, settings, "Rotated token of"))


@inbox_group.command("set-domains")
@click.argument("inbox_id", type=int)
@click.option("--domain", "domains", multiple=True, required=True, help="Allowed domain.")
@json_option
def inbox_set_domains(inbox_id: int, domains: tuple[str, ...], as_json: bool) -> None:
    """Replace an inbox's allowed domains."""

    async def work(session: AsyncSession, settings: Settings) -> tuple[Inbox, Settings]:
        return await InboxService(session=session).set_domains(inbox_id, list(domains)), settings

    inbox, settings = run_db(work)
    emit(as_json, _inbox_dict(inbox, settings), _inbox_text(inbox, settings, "Updated"))


# --- demo -----------------------------------------------------------------------------------


@main.command()
@json_option
def demo(as_json: bool) -> None:
    """Seed a demo branch, operator, admin and an inbox allowed on localhost (idempotent).

    The passwords are new random ones on every run (printed once, stored only hashed).
    """
    operator_password = secrets.token_urlsafe(9)
    admin_password = secrets.token_urlsafe(9)

    async def work(session: AsyncSession, settings: Settings) -> dict[str, Any]:
        branches = BranchService(session=session)
        users = UserService(session=session)
        inboxes = InboxService(session=session)
        branch = await branches.get_one_or_none(name=DEMO_BRANCH)
        if branch is None:
            branch = await branches.create_branch(DEMO_BRANCH)
        for email, name, role, password in (
            (DEMO_OPERATOR_EMAIL, "Demo Operator", UserRole.OPERATOR, operator_password),
            (DEMO_ADMIN_EMAIL, "Demo Admin", UserRole.ADMIN, admin_password),
        ):
            user = await users.get_by_email(email)
            if user is None:
                await users.create_user(
                    email=email, name=name, password=password, role=role, branches=[branch]
                )
            else:
                await users.set_password(user.id, password)
                await users.set_active(user.id, active=True)
        inbox = await inboxes.get_one_or_none(name=DEMO_INBOX)
        if inbox is None:
            inbox = await inboxes.create_inbox(
                name=DEMO_INBOX,
                domains=DEMO_DOMAINS,
                branch=branch,
                settings={"greeting": "Hello! How can we help?"},
            )
        return {
            "branch": _branch_dict(branch),
            "operator": {"email": DEMO_OPERATOR_EMAIL, "password": operator_password},
            "admin": {"email": DEMO_ADMIN_EMAIL, "password": admin_password},
            "inbox": _inbox_dict(inbox, settings),
            "url": settings.public_url,
        }

    data = run_db(work)
    text = "\n".join(
        [
            f"Demo ready at {data['url']} (sign in at {data['url']}/login)",
            f"  operator: {data['operator']['email']}  password: {data['operator']['password']}",
            f"  admin:    {data['admin']['email']}  password: {data['admin']['password']}",
            f"  inbox:    {data['inbox']['name']}  token: {data['inbox']['widget_token']}",
            f"  snippet:  {data['inbox']['embed_snippet']}",
        ]
    )
    emit(as_json, data, text)
