"""What a setting's value is worth for a release: the settings items of ``messenger check``.

A variable's declaration (:mod:`messenger.config.settings`) names its audit; ``messenger
check`` runs them in declaration order, then the audits that weigh several variables against
each other. Each answers pass / warn / fail with a reason in the active language; a value left
at its default is a warning, not a failure; a development-only shortcut fails in production.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from messenger.config.values import Network, Rate
from messenger.i18n import gettext as _

if TYPE_CHECKING:
    from messenger.config.settings import Settings

Status = Literal["pass", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    reason: str


@dataclass(frozen=True, slots=True)
class AuditContext:
    """The settings under audit and the environment they were read from."""

    settings: Settings
    env: Mapping[str, str]

    def strict(self) -> Status:
        """What a development-only shortcut is worth: a failure in production."""
        return "fail" if self.settings.environment == "production" else "warn"


#: ``audit(value, variable name, context)``: one checklist item about one variable.
Audit = Callable[..., CheckResult]


def enabled(value: bool, _name: str, _ctx: AuditContext) -> CheckResult:
    if value:
        return CheckResult("messenger_enabled", "pass", _("The widget API is on."))
    return CheckResult(
        "messenger_enabled", "warn", _("MESSENGER_ENABLED=0: every widget call answers 404.")
    )


def secret_key(value: str | None, _name: str, ctx: AuditContext) -> CheckResult:
    if value is None:
        return CheckResult(
            "secret_key",
            ctx.strict(),
            _("MESSENGER_SECRET_KEY is not set: every process must share one."),
        )
    return CheckResult("secret_key", "pass", _("MESSENGER_SECRET_KEY is set."))


def geoip(value: bool, name: str, ctx: AuditContext) -> CheckResult:
    if value:
        path: Path | None = ctx.settings.geoip_db_path
        return CheckResult(
            "geoip",
            "pass",
            _("GeoIP is on with a readable database: %(path)s") % {"path": path},
        )
    if name in ctx.env:
        return CheckResult("geoip", "pass", _("GeoIP is switched off on purpose."))
    return CheckResult(
        "geoip",
        "warn",
        _("GeoIP is off by default: no visitor location, no routing by country or city."),
    )


def rate(value: Rate, name: str, ctx: AuditContext) -> CheckResult:
    if name in ctx.settings.defaults_used:
        return CheckResult(name, "warn", _("Left at its default %(rate)s.") % {"rate": value})
    return CheckResult(name, "pass", _("Set to %(rate)s.") % {"rate": value})


def retention(value: int | None, name: str, ctx: AuditContext) -> CheckResult:
    if value is not None:
        return CheckResult(
            "retention", "pass", _("Conversations are kept %(days)d days.") % {"days": value}
        )
    status: Status = "warn" if ctx.settings.environment == "production" else "pass"
    return CheckResult(
        "retention",
        status,
        _("MESSENGER_RETENTION_DAYS is not set: visitors' data is kept forever."),
    )


def limit(value: int, name: str, _ctx: AuditContext) -> CheckResult:
    return CheckResult(name, "pass", _("Set to %(limit)s.") % {"limit": value})


def poll_interval(value: float, name: str, ctx: AuditContext) -> CheckResult:
    if name in ctx.settings.defaults_used:
        return CheckResult(
            name, "warn", _("Left at its default %(seconds)s s.") % {"seconds": value}
        )
    if value < 0.5:
        return CheckResult(
            name, "warn", _("%(seconds)s s between polls is very short.") % {"seconds": value}
        )
    return CheckResult(name, "pass", _("Set to %(seconds)s s.") % {"seconds": value})


def trusted_proxies(value: tuple[Network, ...], _name: str, _ctx: AuditContext) -> CheckResult:
    if value:
        proxies = ", ".join(str(p) for p in value)
        return CheckResult(
            "trusted_proxies",
            "pass",
            _("X-Forwarded-For is believed only from: %(proxies)s") % {"proxies": proxies},
        )
    return CheckResult(
        "trusted_proxies",
        "warn",
        _("No trusted proxy: behind a reverse proxy every visitor would share its address."),
    )


def db_pooler(value: str, _name: str, ctx: AuditContext) -> CheckResult:
    if value == "transaction":
        return CheckResult(
            "db_pooler",
            "pass",
            _(
                "Through a transaction pooler: statement caches off. Set statement_timeout on "
                "the database role (ALTER ROLE … SET statement_timeout); run migrations "
                "against PostgreSQL itself."
            ),
        )
    url = ctx.settings.database_url or ""
    if ":6432/" in url or "pgbouncer" in url.lower():
        return CheckResult(
            "db_pooler",
            "warn",
            _(
                "DATABASE_URL looks like PgBouncer: with pool_mode = transaction, set "
                "MESSENGER_DB_POOLER=transaction, or prepared statements will fail."
            ),
        )
    return CheckResult("db_pooler", "pass", _("A direct connection to PostgreSQL."))


# --- audits of several variables together ------------------------------------------------------


def widget_rates_consistent(ctx: AuditContext) -> CheckResult:
    s = ctx.settings
    if s.widget_send_rate_per_ip.per_second < s.widget_send_rate_per_session.per_second:
        return CheckResult(
            "widget_rates_sane",
            "warn",
            _(
                "Sends per IP are lower than sends per session: one visitor can exhaust an office's IP."
            ),
        )
    if s.widget_bootstrap_rate_per_token.per_second < s.widget_bootstrap_rate_per_ip.per_second:
        return CheckResult(
            "widget_rates_sane",
            "warn",
            _("Bootstraps per inbox are lower than per IP: one address can block a whole site."),
        )
    return CheckResult("widget_rates_sane", "pass", _("The widget limits are consistent."))
