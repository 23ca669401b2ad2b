"""``messenger branch|user|inbox …``: the admin chores of setting up.

Every command exits non-zero with a one-line message on bad input and writes nothing
half-way (each command's writes are one transaction).
"""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.service import UserService
from messenger.branches.service import BranchService
from messenger.cli.common import CliError, emit, json_option, run_db
from messenger.config import Settings
from messenger.db.models import Branch, Inbox, User, UserRole
from messenger.inboxes.service import InboxService, embed_snippet, inbox_settings

# --- branches -----------------------------------------------------------------------------


@click.group("branch")
def branch_group() -> None:
    """Branches (филиалы)."""


def branch_dict(branch: Branch) -> dict[str, Any]:
    return {"id": branch.id, "name": branch.name, "is_active": branch.is_active}


@branch_group.command("create")
@click.option("--name", required=True)
@json_option
def branch_create(name: str, as_json: bool) -> None:
    """Create a branch."""

    async def work(session: AsyncSession, _: Settings) -> Branch:
        return await BranchService(session=session).create_branch(name)

    branch = run_db(work)
    emit(as_json, branch_dict(branch), f"Created branch {branch.id}: {branch.name}")


@branch_group.command("list")
@json_option
def branch_list(as_json: bool) -> None:
    """List branches."""

    async def work(session: AsyncSession, _: Settings) -> list[Branch]:
        return list(await BranchService(session=session).list())

    branches = sorted(run_db(work), key=lambda b: b.id)
    rows = [branch_dict(b) for b in branches]
    text = "\n".join(f"{b.id}\t{b.name}" for b in branches) or "No branches yet."
    emit(as_json, {"branches": rows}, text)


# --- users ----------------------------------------------------------------------------------


@click.group("user")
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


@click.group("inbox")
def inbox_group() -> None:
    """Inboxes: one per site, each with its widget token and allowed domains."""


def inbox_dict(inbox: Inbox, settings: Settings) -> dict[str, Any]:
    return {
        "id": inbox.id,
        "name": inbox.name,
        "widget_token": inbox.widget_token,
        "branch_id": inbox.branch_id,
        "fallback_branch_id": inbox.fallback_branch_id,
        "global": inbox.is_global,
        "allowed_domains": inbox_settings(inbox).security.allowed_domains,
        "embed_snippet": embed_snippet(inbox, settings.public_url),
        # Signs visitor identities on the site's server (docs/integrations.md); never in a page.
        "identity_secret": inbox.identity_secret,
        "sessions_revoked_at": (
            inbox.sessions_revoked_at.isoformat() if inbox.sessions_revoked_at else None
        ),
    }


def inbox_text(inbox: Inbox, settings: Settings, verb: str) -> str:
    data = inbox_dict(inbox, settings)
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
    emit(as_json, inbox_dict(inbox, settings), inbox_text(inbox, settings, "Created"))


@inbox_group.command("list")
@json_option
def inbox_list(as_json: bool) -> None:
    """List inboxes with their tokens."""

    async def work(session: AsyncSession, settings: Settings) -> list[dict[str, Any]]:
        inboxes = sorted(await InboxService(session=session).list(), key=lambda i: i.id)
        return [inbox_dict(inbox, settings) for inbox in inboxes]

    rows = run_db(work)
    text = "\n".join(
        f"{r['id']}\t{r['name']}\t{r['widget_token']}\t{','.join(r['allowed_domains'])}"
        for r in rows
    )
    emit(as_json, {"inboxes": rows}, text or "No inboxes yet.")


@inbox_group.command("rotate-token")
@click.argument("inbox_id", type=int)
@click.option(
    "--revoke-sessions",
    is_flag=True,
    help="Also end every visitor session issued so far (they start anew, without history).",
)
@json_option
def inbox_rotate_token(inbox_id: int, revoke_sessions: bool, as_json: bool) -> None:
    """Give an inbox a new widget token; the old one stops working at once."""

    async def work(session: AsyncSession, settings: Settings) -> tuple[Inbox, Settings]:
        service = InboxService(session=session)
        return await service.rotate_token(inbox_id, revoke_sessions=revoke_sessions), settings

    inbox, settings = run_db(work)
    emit(as_json, inbox_dict(inbox, settings), inbox_text(inbox, settings, "Rotated token of"))


@inbox_group.command("rotate-identity-secret")
@click.argument("inbox_id", type=int)
@json_option
def inbox_rotate_identity_secret(inbox_id: int, as_json: bool) -> None:
    """Give an inbox a new identity secret; hashes signed with the old one stop working."""

    async def work(session: AsyncSession, settings: Settings) -> tuple[Inbox, Settings]:
        return await InboxService(session=session).rotate_identity_secret(inbox_id), settings

    inbox, settings = run_db(work)
    emit(
        as_json,
        inbox_dict(inbox, settings),
        f"Rotated the identity secret of inbox {inbox.id}: {inbox.identity_secret}",
    )


@inbox_group.command("set-domains")
@click.argument("inbox_id", type=int)
@click.option("--domain", "domains", multiple=True, required=True, help="Allowed domain.")
@json_option
def inbox_set_domains(inbox_id: int, domains: tuple[str, ...], as_json: bool) -> None:
    """Replace an inbox's allowed domains."""

    async def work(session: AsyncSession, settings: Settings) -> tuple[Inbox, Settings]:
        return await InboxService(session=session).set_domains(inbox_id, list(domains)), settings

    inbox, settings = run_db(work)
    emit(as_json, inbox_dict(inbox, settings), inbox_text(inbox, settings, "Updated"))
