"""Inboxes: creation, settings, widget tokens. Nothing here commits: the caller's unit of work
does (a dashboard request, a CLI command)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from html import escape
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from messenger.db import audit
from messenger.db.models import Branch, Inbox
from messenger.db.models.inbox import new_identity_secret
from messenger.db.repository import Repository, RepositoryService
from messenger.errors import InvalidInputError, NotFoundError
from messenger.i18n import N_
from messenger.inboxes.settings import InboxSettings, normalize_settings, parse_settings

TOKEN_PREFIX = "wt_"  # noqa: S105 - a prefix, not a secret


def new_widget_token() -> str:
    """192 random bits, URL-safe, with a prefix that makes a leaked token easy to grep for."""
    return TOKEN_PREFIX + secrets.token_urlsafe(24)


def embed_snippet(inbox: Inbox, public_url: str) -> str:
    """The one tag a site owner pastes into their pages."""
    src = f"{public_url.rstrip('/')}/static/messenger/widget.js"
    return (
        f'<script src="{escape(src)}" data-widget-token="{escape(inbox.widget_token)}" '
        "async></script>"
    )


def inbox_settings(inbox: Inbox) -> InboxSettings:
    return parse_settings(inbox.settings)


def check_inbox_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInputError(N_("An inbox needs a name of 1 to 200 characters."))
    return name


def _fields(inbox: Inbox) -> dict[str, Any]:
    """What the audit compares (no widget token, no identity secret)."""
    fields: dict[str, Any] = {
        "name": inbox.name,
        "branch_id": inbox.branch_id,
        "fallback_branch_id": inbox.fallback_branch_id,
        "active": inbox.is_active,
    }
    for key, value in (inbox.settings or {}).items():
        fields[f"settings.{key}"] = value
    return fields


class InboxService(RepositoryService[Inbox]):
    class Repo(Repository[Inbox]):
        model_type = Inbox

    repository_type = Repo

    async def create_inbox(
        self,
        *,
        name: str,
        domains: list[str],
        branch: Branch | None,
        fallback_branch: Branch | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Inbox:
        name = check_inbox_name(name)
        if branch is not None and fallback_branch is not None:
            raise InvalidInputError(N_("A fallback branch is only for global inboxes (no branch)."))
        document = dict(settings or {})
        security = dict(document.get("security") or {})
        security["allowed_domains"] = [*security.get("allowed_domains", []), *domains]
        document["security"] = security
        inbox = Inbox(
            name=name,
            widget_token=new_widget_token(),
            branch_id=branch.id if branch else None,
            fallback_branch_id=fallback_branch.id if fallback_branch else None,
            settings=document,
        )
        inbox = await self.create(inbox, auto_refresh=False)
        audit.record(
            self.repository.session, "inbox.create", f"inbox:{inbox.id}", {"after": _fields(inbox)}
        )
        return inbox

    async def require(self, inbox_id: int) -> Inbox:
        inbox = await self.get_one_or_none(id=inbox_id)
        if inbox is None:
            raise NotFoundError(N_("There is no inbox with id %(id)s."), params={"id": inbox_id})
        return inbox

    async def get_by_token(self, widget_token: str) -> Inbox | None:
        """The active inbox with this token (None for unknown or deactivated)."""
        if not widget_token.startswith(TOKEN_PREFIX) or len(widget_token) > 64:
            return None
        inbox = await self.repository.session.scalar(
            select(Inbox).where(Inbox.widget_token == widget_token, Inbox.is_active.is_(True))
        )
        return inbox

    async def rotate_token(self, inbox_id: int, *, revoke_sessions: bool = False) -> Inbox:
        """A new token; the old one stops working at once (embedded snippets must change).

        ``revoke_sessions``: the visitors' widget sessions issued so far end too (their next
        call answers 401 and the widget starts a new session, with no past conversation)."""
        inbox = await self.require(inbox_id)
        inbox.widget_token = new_widget_token()
        inbox.token_rotated_at = datetime.now(UTC)
        if revoke_sessions:
            inbox.sessions_revoked_at = inbox.token_rotated_at
        await self.repository.session.flush()
        audit.record(
            self.repository.session,
            "inbox.token_rotate",
            f"inbox:{inbox.id}",
            {"revoke_sessions": revoke_sessions},
        )
        return inbox

    async def rotate_identity_secret(self, inbox_id: int) -> Inbox:
        """A new identity secret: identity hashes signed with the old one are refused from
        now on (``identity_invalid``); the site's server must sign with the new one."""
        inbox = await self.require(inbox_id)
        inbox.identity_secret = new_identity_secret()
        await self.repository.session.flush()
        audit.record(self.repository.session, "inbox.identity_secret_rotate", f"inbox:{inbox.id}")
        return inbox

    async def set_domains(self, inbox_id: int, domains: list[str]) -> Inbox:
        inbox = await self.require(inbox_id)
        document = msgspec.to_builtins(inbox_settings(inbox))
        before = list(document["security"]["allowed_domains"])
        document["security"]["allowed_domains"] = list(domains)
        inbox.settings = document
        await self.repository.session.flush()
        audit.record(
            self.repository.session,
            "inbox.allowlist",
            f"inbox:{inbox.id}",
            {"before": {"allowed_domains": before}, "after": {"allowed_domains": list(domains)}},
        )
        return inbox

    async def update_settings(self, inbox_id: int, settings: dict[str, Any]) -> Inbox:
        inbox = await self.require(inbox_id)
        before = dict(inbox.settings or {})
        inbox.settings = settings
        await self.repository.session.flush()
        audit.record(
            self.repository.session,
            "inbox.settings",
            f"inbox:{inbox.id}",
            audit.diff(before, dict(settings)),
        )
        return inbox

    async def update_inbox(
        self,
        inbox_id: int,
        *,
        name: str,
        settings: dict[str, Any],
        branch: Branch | None,
        fallback_branch: Branch | None,
        is_active: bool,
    ) -> Inbox:
        """An admin's save of the whole inbox form: every rule is checked before anything
        changes. A branch inbox has no fallback branch (only global inboxes are routed)."""
        inbox = await self.require(inbox_id)
        name = check_inbox_name(name)
        document = normalize_settings(settings)
        before = _fields(inbox)
        inbox.settings = document
        inbox.name = name
        inbox.branch_id = branch.id if branch else None
        inbox.fallback_branch_id = (
            None if branch else (fallback_branch.id if fallback_branch else None)
        )
        inbox.is_active = is_active
        await self.repository.session.flush()
        after = _fields(inbox)
        audit.record(
            self.repository.session,
            "inbox.settings",
            f"inbox:{inbox.id}",
            audit.diff(before, after),
        )
        return inbox

    async def ordered(self) -> list[Inbox]:
        """Every inbox by name, with its branch (the admin list)."""
        return list(
            await self.repository.session.scalars(
                select(Inbox).order_by(Inbox.name).options(selectinload(Inbox.branch))
            )
        )
