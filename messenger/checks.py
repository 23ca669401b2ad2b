"""``messenger check``: the release checklist, executable.

Each item answers pass / warn / fail with a reason in the active language. Any fail makes
the command exit non-zero; a value left at its default is a warning, not a failure.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Literal

import asyncpg
from alembic.script import ScriptDirectory
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db import MIGRATIONS_DIR, alchemy_config
from messenger.db.models import Branch, Inbox, RoutingRule
from messenger.i18n import gettext as _
from messenger.inboxes.allowlist import risky_domains
from messenger.inboxes.service import TOKEN_PREFIX, inbox_settings

Status = Literal["pass", "warn", "fail"]
CONNECT_ERRORS = (SQLAlchemyError, OSError, asyncpg.PostgresError, TimeoutError)
RATE_SETTINGS = (
    ("MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP", "widget_bootstrap_rate_per_ip"),
    ("MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN", "widget_bootstrap_rate_per_token"),
    ("MESSENGER_WIDGET_SEND_RATE_PER_SESSION", "widget_send_rate_per_session"),
    ("MESSENGER_WIDGET_SEND_RATE_PER_IP", "widget_send_rate_per_ip"),
    ("MESSENGER_WIDGET_POLL_RATE_PER_SESSION", "widget_poll_rate_per_session"),
)


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    reason: str


def _per_second(rate: object) -> float:
    return rate.limit / rate.window_seconds  # type: ignore[attr-defined]


class ReleaseCheck:
    def __init__(self, settings: Settings, env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.env = dict(os.environ if env is None else env)
        self.production = self.settings.environment == "production"
        self.results: list[CheckResult] = []

    def add(self, name: str, status: Status, reason: str) -> None:
        self.results.append(CheckResult(name, status, reason))

    def strict(self) -> Status:
        """What a development-only shortcut is worth: a failure in production."""
        return "fail" if self.production else "warn"

    # --- configuration only ----------------------------------------------------------------

    def check_settings(self) -> None:
        s = self.settings
        self.add(
            "messenger_enabled",
            "pass" if s.enabled else "warn",
            _("The widget API is on.")
            if s.enabled
            else _("MESSENGER_ENABLED=0: every widget call answers 404."),
        )
        if s.secret_key is None:
            self.add(
                "secret_key",
                self.strict(),
                _("MESSENGER_SECRET_KEY is not set: every process must share one."),
            )
        else:
            self.add("secret_key", "pass", _("MESSENGER_SECRET_KEY is set."))
        if s.geoip_enabled:
            self.add(
                "geoip",
                "pass",
                _("GeoIP is on with a readable database: %(path)s") % {"path": s.geoip_db_path},
            )
        elif "MESSENGER_GEOIP_ENABLED" in self.env:
            self.add("geoip", "pass", _("GeoIP is switched off on purpose."))
        else:
            self.add(
                "geoip",
                "warn",
                _("GeoIP is off by default: no visitor location, no routing by country or city."),
            )
        self.check_rates()
        if s.trusted_proxies:
            proxies = ", ".join(str(p) for p in s.trusted_proxies)
            self.add(
                "trusted_proxies",
                "pass",
                _("X-Forwarded-For is believed only from: %(proxies)s") % {"proxies": proxies},
            )
        else:
            self.add(
                "trusted_proxies",
                "warn",
                _(
                    "No trusted proxy: behind a reverse proxy every visitor would share its address."
                ),
            )

    def check_rates(self) -> None:
        s = self.settings
        for variable, attribute in RATE_SETTINGS:
            rate = getattr(s, attribute)
            if variable in s.defaults_used:
                self.add(variable, "warn", _("Left at its default %(rate)s.") % {"rate": rate})
            else:
                self.add(variable, "pass", _("Set to %(rate)s.") % {"rate": rate})
        interval = s.widget_poll_min_interval_seconds
        name = "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS"
        if name in s.defaults_used:
            self.add(name, "warn", _("Left at its default %(seconds)s s.") % {"seconds": interval})
        elif interval < 0.5:
            self.add(
                name,
                "warn",
                _("%(seconds)s s between polls is very short.") % {"seconds": interval},
            )
        else:
            self.add(name, "pass", _("Set to %(seconds)s s.") % {"seconds": interval})
        if _per_second(s.widget_send_rate_per_ip) < _per_second(s.widget_send_rate_per_session):
            self.add(
                "widget_rates_sane",
                "warn",
                _(
                    "Sends per IP are lower than sends per session: one visitor can exhaust an office's IP."
                ),
            )
        elif _per_second(s.widget_bootstrap_rate_per_token) < _per_second(
            s.widget_bootstrap_rate_per_ip
        ):
            self.add(
                "widget_rates_sane",
                "warn",
                _(
                    "Bootstraps per inbox are lower than per IP: one address can block a whole site."
                ),
            )
        else:
            self.add("widget_rates_sane", "pass", _("The widget limits are consistent."))

    # --- services --------------------------------------------------------------------------

    async def check_redis(self) -> None:
        if self.settings.redis_url is None:
            self.add(
                "redis",
                self.strict(),
                _(
                    "REDIS_URL is not set: throttling, sessions and live delivery work in one process only."
                ),
            )
            return
        client = Redis.from_url(self.settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            self.add(
                "redis",
                "fail",
                _("Redis does not answer (%(error)s).") % {"error": type(exc).__name__},
            )
        else:
            self.add(
                "redis",
                "pass",
                _("Redis answers; it holds throttling, sessions, presence and live fan-out."),
            )
        finally:
            await client.aclose()

    async def check_database(self) -> None:
        s = self.settings
        if s.embedded:
            self.add(
                "database",
                self.strict(),
                _("SQLite (embedded mode): use PostgreSQL in production."),
            )
        else:
            self.add("database", "pass", _("PostgreSQL."))
        config = alchemy_config(s)
        try:
            async with config.get_session() as session:
                await self._database_items(session)
        except CONNECT_ERRORS as exc:
            self.add(
                "database_reachable",
                "fail",
                _("The database does not answer (%(error)s).") % {"error": type(exc).__name__},
            )
        finally:
            await config.get_engine().dispose()

    async def _database_items(self, session: AsyncSession) -> None:
        head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
        try:
            current = await session.scalar(text("SELECT version_num FROM alembic_version"))
        except SQLAlchemyError:
            await session.rollback()
            current = None
        if current == head:
            self.add(
                "migrations",
                "pass",
                _("The schema is at the latest migration (%(head)s).") % {"head": head},
            )
        else:
            self.add(
                "migrations",
                "fail",
                _(
                    "The schema is at %(current)s, the code needs %(head)s: run 'messenger db upgrade'."
                )
                % {"current": current or "-", "head": head},
            )
            return
        await self._default_branch(session)
        inboxes = list(
            (await session.execute(select(Inbox).where(Inbox.is_active.is_(True)))).scalars()
        )
        self._privacy(inboxes)
        await self._inboxes(session, inboxes)

    async def _default_branch(self, session: AsyncSession) -> None:
        branch_id = self.settings.default_branch_id
        if branch_id is None:
            self.add("default_branch", "warn", _("MESSENGER_DEFAULT_BRANCH_ID is not set."))
            return
        branch = await session.get(Branch, branch_id)
        if branch is None:
            self.add(
                "default_branch",
                "fail",
                _("MESSENGER_DEFAULT_BRANCH_ID=%(id)s names no branch.") % {"id": branch_id},
            )
        else:
            self.add(
                "default_branch",
                "pass",
                _("The default branch is %(name)s.") % {"name": branch.name},
            )

    def _privacy(self, inboxes: list[Inbox]) -> None:
        s = self.settings
        if s.privacy_url and s.privacy_text:
            self.add("privacy", "pass", _("A default privacy notice is set."))
            return
        missing = [
            i.name
            for i in inboxes
            if not (
                (inbox_settings(i).privacy.url or s.privacy_url)
                and (inbox_settings(i).privacy.text or s.privacy_text)
            )
        ]
        if missing:
            self.add(
                "privacy",
                "fail",
                _(
                    "No privacy notice for: %(inboxes)s (set MESSENGER_PRIVACY_URL and MESSENGER_PRIVACY_TEXT)."
                )
                % {"inboxes": ", ".join(missing)},
            )
        else:
            self.add("privacy", "pass", _("Every active inbox has its own privacy notice."))

    async def _inboxes(self, session: AsyncSession, inboxes: list[Inbox]) -> None:
        if not inboxes:
            self.add("inboxes", "warn", _("No active inbox yet."))
            return
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
            self.add(
                "inbox_tokens",
                "fail",
                _("Inbox tokens are not unique or too short: %(inboxes)s")
                % {"inboxes": ", ".join(weak) or "?"},
            )
        else:
            self.add("inbox_tokens", "pass", _("Every inbox token is unique and random."))
        for inbox in inboxes:
            domains = inbox_settings(inbox).security.allowed_domains
            risky = risky_domains(domains)
            name = f"inbox:{inbox.name}"
            if not domains:
                self.add(name, "fail", _("No allowed domains: every widget call is refused."))
            elif risky:
                self.add(
                    name,
                    "fail",
                    _("Allowed domains include local, IP or test addresses: %(domains)s")
                    % {"domains": ", ".join(risky)},
                )
            else:
                self.add(
                    name, "pass", _("Allowed on: %(domains)s") % {"domains": ", ".join(domains)}
                )
            if inbox.branch_id is None:
                rules = await session.scalar(
                    select(func.count())
                    .select_from(RoutingRule)
                    .where(RoutingRule.inbox_id == inbox.id)
                )
                if not rules and inbox.fallback_branch_id is None:
                    self.add(
                        f"routing:{inbox.name}",
                        "fail",
                        _("A global inbox without routing rules or a fallback branch."),
                    )
                else:
                    self.add(
                        f"routing:{inbox.name}",
                        "pass",
                        _("Routed by %(count)d rule(s), fallback: %(fallback)s")
                        % {
                            "count": rules or 0,
                            "fallback": inbox.fallback_branch.name
                            if inbox.fallback_branch
                            else "-",
                        },
                    )

    async def run(self) -> list[CheckResult]:
        self.check_settings()
        steps: list[Callable[[], Awaitable[None]]] = [self.check_redis, self.check_database]
        for step in steps:
            await step()
        return self.results


def run_checks(settings: Settings, env: dict[str, str] | None = None) -> list[CheckResult]:
    return asyncio.run(ReleaseCheck(settings, env).run())


def as_json(results: list[CheckResult]) -> dict[str, object]:
    return {
        "ok": not any(r.status == "fail" for r in results),
        "checks": [asdict(r) for r in results],
    }
