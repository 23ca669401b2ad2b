"""The declaration of every setting, and the one settings object read from it.

Each field of :class:`Settings` is one environment variable, declared once with
:func:`variable`: its name, its type (the annotation) and parser (which is the constraint),
its default as written in the environment, its documentation, and the release-checklist
audit that weighs its value. From that one declaration:

- :meth:`Settings.from_env` reads and validates the environment;
- :func:`markdown_table` writes the README's configuration table (``messenger settings``;
  ``tests/unit/test_docs.py`` compares the README with it);
- ``messenger check`` derives its settings items (:func:`settings_audit`).
"""

# ruff: noqa: RUF009  (variable() is this dataclass's field specifier, like field())
from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from messenger.config import audit as audits
from messenger.config import values
from messenger.config.audit import AuditContext, CheckResult
from messenger.config.values import Environment, Locale, Network, Rate

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"

Parser = Callable[[str, str], Any]
Constraint = Callable[[Any, Mapping[str, Any], str], None]


@dataclass(frozen=True, slots=True)
class Variable:
    """One environment variable: everything known about it, in one place."""

    name: str
    parse: Parser
    #: The default as it would be written in the environment; None: unset.
    default: str | None
    #: The README's "meaning" column.
    doc: str
    #: The README's "default" column when the default text alone does not say it.
    default_doc: str | None = None
    #: A rule against the variables declared before it: (value, earlier values, name).
    constraint: Constraint | None = None
    #: The ``messenger check`` item for this variable: (value, name, context) -> CheckResult.
    audit: audits.Audit | None = None
    #: ``messenger check`` warns when the variable is left at its default.
    warn_at_default: bool = False
    #: False: an empty value is a value (``MESSENGER_ENABLED=`` switches off), not "unset".
    blank_is_unset: bool = True
    #: The :class:`Settings` attribute (filled in from the field).
    attribute: str = ""
    #: The Python type of the value (filled in from the field's annotation).
    type: str = ""

    @property
    def default_value(self) -> Any:
        return None if self.default is None else self.parse(self.default, self.name)

    @property
    def default_text(self) -> str:
        """The default as the README shows it."""
        if self.default_doc is not None:
            return self.default_doc
        if self.default is None:
            return "unset"
        return f"`{self.default}`" if self.default else "empty"

    def read(self, env: Mapping[str, str]) -> tuple[Any, bool]:
        """The value in ``env`` and whether the default was used instead."""
        raw = env.get(self.name)
        if raw is not None and (raw.strip() or not self.blank_is_unset):
            return self.parse(raw.strip(), self.name), False
        return self.default_value, True


def variable(name: str, parse: Parser, default: str | None, doc: str, **more: Any) -> Any:
    """Declare the :class:`Settings` field read from the environment variable ``name``."""
    declared = Variable(name, parse, default, doc, **more)
    return field(default=declared.default_value, metadata={"variable": declared})


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the process. Build with :meth:`from_env`; never mutate."""

    database_url: str | None = variable(
        "DATABASE_URL",
        values.database_url,
        None,
        "PostgreSQL: `postgresql+asyncpg://user:pass@host/db` (`postgres://…` is accepted)",
        default_doc="unset → SQLite in `MESSENGER_DATA_DIR`",
    )
    redis_url: str | None = variable(
        "REDIS_URL",
        values.redis_url,
        None,
        "Redis for throttling, sessions, presence, typing, challenges and live fan-out",
        default_doc="unset → in-memory (one process only)",
    )
    enabled: bool = variable(
        "MESSENGER_ENABLED",
        values.boolean,
        "1",
        "`0` → every `/api/widget/` call answers 404",
        blank_is_unset=False,
        audit=audits.enabled,
    )
    default_branch_id: int | None = variable(
        "MESSENGER_DEFAULT_BRANCH_ID",
        values.positive_int,
        None,
        "fallback branch of global inboxes; must name an existing branch (checked at start-up)",
    )
    geoip_enabled: bool = variable(
        "MESSENGER_GEOIP_ENABLED",
        values.boolean,
        "0",
        "look up the visitor's country/city (for the operator and routing)",
        blank_is_unset=False,
        audit=audits.geoip,
    )
    geoip_db_path: Path | None = variable(
        "MESSENGER_GEOIP_DB_PATH",
        values.path,
        None,
        "MaxMind GeoIP2/GeoLite2 City `.mmdb`; must be readable when GeoIP is enabled",
        constraint=values.geoip_database,
    )
    widget_bootstrap_rate_per_ip: Rate = variable(
        "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP",
        values.parse_rate,
        "30/minute",
        "bootstraps per client IP",
        audit=audits.rate,
        warn_at_default=True,
    )
    widget_bootstrap_rate_per_token: Rate = variable(
        "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN",
        values.parse_rate,
        "3000/minute",
        "bootstraps per inbox",
        audit=audits.rate,
        warn_at_default=True,
    )
    widget_send_rate_per_session: Rate = variable(
        "MESSENGER_WIDGET_SEND_RATE_PER_SESSION",
        values.parse_rate,
        "20/minute",
        "sends (messages, uploads, offline forms) per widget session",
        audit=audits.rate,
        warn_at_default=True,
    )
    widget_send_rate_per_ip: Rate = variable(
        "MESSENGER_WIDGET_SEND_RATE_PER_IP",
        values.parse_rate,
        "60/minute",
        "sends per client IP",
        audit=audits.rate,
        warn_at_default=True,
    )
    widget_poll_rate_per_session: Rate = variable(
        "MESSENGER_WIDGET_POLL_RATE_PER_SESSION",
        values.parse_rate,
        "40/minute",
        "polls per widget session",
        audit=audits.rate,
        warn_at_default=True,
    )
    widget_poll_min_interval_seconds: float = variable(
        "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS",
        values.seconds,
        "1.0",
        "shortest gap between two polls of one session",
        audit=audits.poll_interval,
        warn_at_default=True,
    )
    widget_challenge_threshold: int = variable(
        "MESSENGER_WIDGET_CHALLENGE_THRESHOLD",
        values.non_negative_int,
        "10",
        "new sessions (or offline forms) per IP per bootstrap window before a proof-of-work "
        "challenge is required; `0` = always",
    )
    widget_challenge_max_number: int = variable(
        "MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER",
        values.int_between(1_000, 10_000_000),
        "100000",
        "proof-of-work difficulty (ALTCHA `maxnumber`, 1,000–10,000,000)",  # noqa: RUF001
    )
    privacy_url: str = variable(
        "MESSENGER_PRIVACY_URL",
        values.text,
        "",
        "default privacy link; an inbox's `settings.privacy.url` overrides it",
    )
    privacy_text: str = variable(
        "MESSENGER_PRIVACY_TEXT",
        values.text,
        "",
        "default privacy text; an inbox's `settings.privacy.text` overrides it",
    )
    default_locale: Locale = variable(
        "MESSENGER_DEFAULT_LOCALE",
        values.locale,
        "ru",
        "`ru` or `en`: the language when nothing else decides",
    )
    secret_key: str | None = variable(
        "MESSENGER_SECRET_KEY",
        values.secret,
        None,
        "≥ 32 characters; signs widget sessions, CSRF tokens, download links and challenges. "
        "**Required with `DATABASE_URL`**, the same in every process",
        default_doc="generated into `var/` when embedded",
        audit=audits.secret_key,
    )
    trusted_proxies: tuple[Network, ...] = variable(
        "MESSENGER_TRUSTED_PROXIES",
        values.networks,
        "",
        "IPs/CIDRs of reverse proxies whose `X-Forwarded-For` is believed; nobody else's is",
        audit=audits.trusted_proxies,
    )
    public_url: str = variable(
        "MESSENGER_PUBLIC_URL",
        values.http_url,
        DEFAULT_PUBLIC_URL,
        "the address visitors' browsers reach; used in embed snippets; `https://` makes "
        "cookies `Secure`",
    )
    data_dir: Path = variable(
        "MESSENGER_DATA_DIR",
        values.path,
        "var",
        "embedded database, generated secret, uploaded files",
    )
    storage_url: str | None = variable(
        "MESSENGER_STORAGE_URL",
        values.file_url,
        None,
        "where attachments are kept (`file:///absolute/path`)",
        default_doc="unset → `MESSENGER_DATA_DIR/attachments`",
    )
    redis_prefix: str = variable(
        "MESSENGER_REDIS_PREFIX",
        values.redis_prefix,
        "messenger",
        "prefix of every Redis key and channel (several deployments can share one Redis)",
    )
    stream_heartbeat_seconds: float = variable(
        "MESSENGER_STREAM_HEARTBEAT_SECONDS",
        values.seconds,
        "15",
        "SSE keep-alive comment interval",
    )
    environment: Environment = variable(
        "MESSENGER_ENV",
        values.environment,
        "production",
        "what `messenger check` holds the setup to: `production` fails embedded shortcuts "
        "(SQLite, no Redis, no secret); `development` only warns",
    )
    # --- faults ---------------------------------------------------------------------------
    redis_timeout_seconds: float = variable(
        "MESSENGER_REDIS_TIMEOUT_SECONDS",
        values.seconds,
        "0.5",
        "connect and read timeout of each Redis call (one retry on a fresh connection); "
        "while Redis is away, widget calls answer 503 with `Retry-After` within about twice this",
    )
    stream_catch_up_seconds: float = variable(
        "MESSENGER_STREAM_CATCH_UP_SECONDS",
        values.seconds,
        "5",
        "how often an open stream re-reads the database for messages whose live event was "
        "lost (a failed publish, a Redis outage)",
    )
    #: The ``warn_at_default`` variables that were left unset (``messenger check`` warns).
    defaults_used: frozenset[str] = field(default_factory=frozenset)

    @property
    def embedded(self) -> bool:
        """True when running without PostgreSQL (the one-command local demo)."""
        return self.database_url is None or self.database_url.startswith("sqlite")

    @property
    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'messenger.sqlite3').resolve()}"

    def require_secret_key(self) -> str:
        """The key for CSRF tokens and signatures; every process of a deployment must share it.

        Embedded mode makes one on first use and keeps it in the data directory; with
        PostgreSQL (a real deployment, maybe several processes) it must be configured.
        """
        if self.secret_key is not None:
            return self.secret_key
        if not self.embedded:
            raise values.SettingsError(
                "MESSENGER_SECRET_KEY",
                "is required with DATABASE_URL (all processes must share it); "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
            )
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every variable; raise :class:`SettingsError` on the first bad one."""
        env = os.environ if env is None else env
        read: dict[str, Any] = {}
        defaults: set[str] = set()
        for declared in VARIABLES:
            value, is_default = declared.read(env)
            if declared.constraint is not None:
                declared.constraint(value, read, declared.name)
            read[declared.attribute] = value
            if is_default and declared.warn_at_default:
                defaults.add(declared.name)
        return cls(**read, defaults_used=frozenset(defaults))


#: Every variable, in declaration order (the README's order).
VARIABLES: tuple[Variable, ...] = tuple(
    replace(f.metadata["variable"], attribute=f.name, type=str(f.type))
    for f in fields(Settings)
    if "variable" in f.metadata
)

#: ``messenger check`` items that weigh several variables against each other.
CROSS_AUDITS: tuple[Callable[[AuditContext], CheckResult], ...] = (audits.widget_rates_consistent,)


def settings_audit(settings: Settings, env: Mapping[str, str]) -> list[CheckResult]:
    """The settings items of ``messenger check``: each declared audit, then the cross audits."""
    ctx = AuditContext(settings, env)
    results = [
        declared.audit(getattr(settings, declared.attribute), declared.name, ctx)
        for declared in VARIABLES
        if declared.audit is not None
    ]
    return results + [cross(ctx) for cross in CROSS_AUDITS]


def markdown_table() -> str:
    """The README's configuration table, one row per declared variable."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{v.name}` | {v.default_text} | {v.doc} |" for v in VARIABLES]
    return "\n".join(rows) + "\n"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings.from_env()
