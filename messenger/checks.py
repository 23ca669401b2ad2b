"""``messenger check``: the release checklist, executable.

Each item answers pass / warn / fail with a reason in the active language. Any fail makes
the command exit non-zero; a value left at its default is a warning, not a failure. The
settings items are derived from the settings declaration (:func:`messenger.config.settings_audit`);
the functions here check the services the settings point at. Each takes what it needs and
returns its items.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import asdict

import asyncpg
from alembic.script import ScriptDirectory
from redis.exceptions import RedisError
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from messenger.backends import redis_client
from messenger.config import CheckResult, Settings, settings_audit
from messenger.config.audit import Status
from messenger.db import MIGRATIONS_DIR, alchemy_config
from messenger.db.models import Branch, Inbox, RoutingRule
from messenger.i18n import gettext as _
from messenger.inboxes.allowlist import risky_domains
from messenger.inboxes.service import TOKEN_PREFIX, inbox_settings
from messenger.worker.status import check_worker

__all__ = ["CheckResult", "as_json", "release_check", "run_checks"]

CONNECT_ERRORS = (SQLAlchemyError, OSError, asyncpg.PostgresError, TimeoutError)


def strict(settings: Settings) -> Status:
    """What a development-only shortcut is worth: a failure in production."""
    return "fail" if settings.environment == "production" else "warn"


# --- Redis ---------------------------------------------------------------------------------


async def check_redis(settings: Settings) -> list[CheckResult]:
    if not settings.uses_redis:
        return [
            CheckResult(
                "redis",
                strict(settings),
                _(
                    "REDIS_URL is not set: throttling, sessions and live delivery work in one process only."
                ),
            )
        ]
    client = redis_client(settings, max_connections=2)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        return [
            CheckResult(
                "redis",
                "fail",
                _("Redis does not answer (%(error)s).") % {"error": type(exc).__name__},
            )
        ]
    finally:
        await client.aclose()
    return [
        CheckResult(
            "redis",
            "pass",
            _("Redis answers; it holds throttling, sessions, presence and live fan-out."),
        )
    ]


# --- the database and what it holds --------------------------------------------------------


async def check_database(settings: Settings) -> list[CheckResult]:
    if settings.embedded:
        results = [
            CheckResult(
                "database",
                strict(settings),
                _("SQLite (embedded mode): use PostgreSQL in production."),
            )
        ]
    else:
        results = [CheckResult("database", "pass", _("PostgreSQL."))]
    config = alchemy_config(settings)
    try:
        async with config.get_session() as session:
            results += await check_contents(session, settings)
    except CONNECT_ERRORS as exc:
        results.append(
            CheckResult(
                "database_reachable",
                "fail",
                _("The database does not answer (%(error)s).") % {"error": type(exc).__name__},
            )
        )
    finally:
        await config.get_engine().dispose()
    return results


async def check_contents(session: AsyncSession, settings: Settings) -> list[CheckResult]:
    """Migrations first; the rest only on a schema at the latest migration."""
    migrations = await check_migrations(session)
    if migrations.status == "fail":
        return [migrations]
    inboxes = list(
        (
            await session.execute(
                select(Inbox)
                .where(Inbox.is_active.is_(True))
                .options(selectinload(Inbox.fallback_branch))  # named in the routing line
            )
        ).scalars()
    )
    return [
        migrations,
        await check_default_branch(session, settings.default_branch_id),
        check_privacy(settings, inboxes),
        *await check_inboxes(session, inboxes),
        *await check_worker(session, settings),
    ]


async def check_migrations(session: AsyncSession) -> CheckResult:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    try:
        current = await session.scalar(text("SELECT version_num FROM alembic_version"))
    except SQLAlchemyError:
        await session.rollback()
        current = None
    if current == head:
        return CheckResult(
            "migrations",
            "pass",
            _("The schema is at the latest migration (%(head)s).") % {"head": head},
        )
    return CheckResult(
        "migrations",
        "fail",
        _("The schema is at %(current)s, the code needs %(head)s: run 'messenger db upgrade'.")
        % {"current": current or "-", "head": head},
    )


async def check_default_branch(session: AsyncSession, branch_id: int | None) -> CheckResult:
    if branch_id is None:
        return CheckResult("default_branch", "warn", _("MESSENGER_DEFAULT_BRANCH_ID is not set."))
    branch = await session.get(Branch, branch_id)
    if branch is None:
        return CheckResult(
            "default_branch",
            "fail",
            _("MESSENGER_DEFAULT_BRANCH_ID=%(id)s names no branch.") % {"id": branch_id},
        )
    return CheckResult(
        "default_branch", "pass", _("The default branch is %(name)s.") % {"name": branch.name}
    )


def check_privacy(settings: Settings, inboxes: list[Inbox]) -> CheckResult:
    if settings.privacy_url and settings.privacy_text:
        return CheckResult("privacy", "pass", _("A default privacy notice is set."))
    missing = [
        i.name
        for i in inboxes
        if not (
            (inbox_settings(i).privacy.url or settings.privacy_url)
            and (inbox_settings(i).privacy.text or settings.privacy_text)
        )
    ]
    if missing:
        return CheckResult(
            "privacy",
            "fail",
            _(
                "No privacy notice for: %(inboxes)s (set MESSENGER_PRIVACY_URL and MESSENGER_PRIVACY_TEXT)."
            )
            % {"inboxes": ", ".join(missing)},
        )
    return CheckResult("privacy", "pass", _("Every active inbox has its own privacy notice."))


async def check_inboxes(session: AsyncSession, inboxes: list[Inbox]) -> list[CheckResult]:
    if not inboxes:
        return [CheckResult("inboxes", "warn", _("No active inbox yet."))]
    results = [await check_tokens(session, inboxes)]
    for inbox in inboxes:
        results.append(check_domains(inbox))
        if inbox.branch_id is None:
            results.append(await check_routing(session, inbox))
    return results


async def check_tokens(session: AsyncSession, inboxes: list[Inbox]) -> CheckResult:
    duplicates = (
        await session.execute(
            select(Inbox.widget_token).group_by(Inbox.widget_token).having(func.count() > 1)
        )
    ).all()
    weak = [
        i.name
        for i in inboxes
        if not i.widget_token.startswith(TOKEN_PREFIX) or len(i.widget_token) < 25
    ]
    if duplicates or weak:
        return CheckResult(
            "inbox_tokens",
            "fail",
            _("Inbox tokens are not unique or too short: %(inboxes)s")
            % {"inboxes": ", ".join(weak) or "?"},
        )
    return CheckResult("inbox_tokens", "pass", _("Every inbox token is unique and random."))


def check_domains(inbox: Inbox) -> CheckResult:
    domains = inbox_settings(inbox).security.allowed_domains
    risky = risky_domains(domains)
    name = f"inbox:{inbox.name}"
    if not domains:
        return CheckResult(name, "fail", _("No allowed domains: every widget call is refused."))
    if risky:
        return CheckResult(
            name,
            "fail",
            _("Allowed domains include local, IP or test addresses: %(domains)s")
            % {"domains": ", ".join(risky)},
        )
    return CheckResult(name, "pass", _("Allowed on: %(domains)s") % {"domains": ", ".join(domains)})


async def check_routing(session: AsyncSession, inbox: Inbox) -> CheckResult:
    """A global inbox needs routing rules or a fallback branch."""
    rules = await session.scalar(
        select(func.count()).select_from(RoutingRule).where(RoutingRule.inbox_id == inbox.id)
    )
    name = f"routing:{inbox.name}"
    if not rules and inbox.fallback_branch_id is None:
        return CheckResult(
            name, "fail", _("A global inbox without routing rules or a fallback branch.")
        )
    return CheckResult(
        name,
        "pass",
        _("Routed by %(count)d rule(s), fallback: %(fallback)s")
        % {
            "count": rules or 0,
            "fallback": inbox.fallback_branch.name if inbox.fallback_branch else "-",
        },
    )


# --- the whole checklist -------------------------------------------------------------------


async def release_check(
    settings: Settings, env: Mapping[str, str] | None = None
) -> list[CheckResult]:
    """Every item: the settings (from their declaration), then Redis, then the database."""
    env = dict(os.environ if env is None else env)
    return [
        *settings_audit(settings, env),
        *await check_redis(settings),
        *await check_database(settings),
    ]


def run_checks(settings: Settings, env: Mapping[str, str] | None = None) -> list[CheckResult]:
    return asyncio.run(release_check(settings, env))


def as_json(results: list[CheckResult]) -> dict[str, object]:
    return {
        "ok": not any(r.status == "fail" for r in results),
        "checks": [asdict(r) for r in results],
    }
