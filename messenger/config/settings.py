"""The declaration of every setting, and the one settings object read from it.

Each field of :class:`Settings` is one environment variable, declared once with :func:`variable`:
its name, type (the annotation) and parser (the constraint), default as written in the
environment, documentation, and the release-checklist audit that weighs its value. From it,
:meth:`Settings.from_env` reads and validates the environment,
:func:`messenger.config.derived.markdown_table` writes the README's configuration table
(``messenger settings``; ``tests/unit/test_docs.py`` compares the README with it), and
``messenger check`` derives its settings items (:func:`messenger.config.derived.settings_audit`).
"""

# ruff: noqa: RUF009  (variable() is this dataclass's field specifier, like field())
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from messenger.config import audit as audits
from messenger.config import values
from messenger.config.declaration import Variable, variable
from messenger.config.values import Environment, Locale, Network, Rate

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


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
    db_pool_size: int = variable(
        "MESSENGER_DB_POOL_SIZE",
        values.int_between(1, 500),
        "10",
        "PostgreSQL connections per process, per pool: the widget's hot path has one pool, "
        "everything else another (which may open as many again under a burst): at most 3 times "
        "this per process",
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
        "the staff cookies `Secure` and `__Host-`-prefixed (`__Host-messenger_session`, "
        "`__Host-messenger_csrf`); plain names under http for local dev",
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
    # --- staff sessions and sign-in ---------------------------------------------------------
    signin_free_failures: int = variable(
        "MESSENGER_SIGNIN_FREE_FAILURES",
        values.positive_int,
        "5",
        "wrong passwords per account and client address (IPv6 by /64) in the sign-in window "
        "before that pair waits: 1 s, then twice as long after each further failure",
    )
    signin_max_delay_seconds: float = variable(
        "MESSENGER_SIGNIN_MAX_DELAY_SECONDS",
        values.seconds,
        "900",
        "the longest wait between sign-in attempts of one account from one address",
    )
    signin_window_seconds: float = variable(
        "MESSENGER_SIGNIN_WINDOW_SECONDS",
        values.seconds,
        "900",
        "how long sign-in attempts and failures are counted",
    )
    signin_challenge_after: int = variable(
        "MESSENGER_SIGNIN_CHALLENGE_AFTER",
        values.non_negative_int,
        "20",
        "sign-in attempts per account (from every address) or per address (to every account) "
        "in the window after which each attempt needs a proof-of-work (never a lock-out); "
        "`0` = always",
    )
    staff_access_check_seconds: float = variable(
        "MESSENGER_STAFF_ACCESS_CHECK_SECONDS",
        values.seconds,
        "3",
        "how often an open staff stream re-reads its user (deactivation, new password, role or "
        "branch change end it); it is also re-checked on every event",
    )
    # --- widget limits ---
    widget_typing_rate_per_session: Rate = variable(
        "MESSENGER_WIDGET_TYPING_RATE_PER_SESSION", values.parse_rate, "60/minute",
        "typing signals per widget session", audit=audits.rate,
    )  # fmt: skip
    widget_read_rate_per_session: Rate = variable(
        "MESSENGER_WIDGET_READ_RATE_PER_SESSION", values.parse_rate, "60/minute",
        "read receipts per widget session", audit=audits.rate,
    )  # fmt: skip
    widget_ticket_rate_per_session: Rate = variable(
        "MESSENGER_WIDGET_TICKET_RATE_PER_SESSION", values.parse_rate, "20/minute",
        "stream tickets per widget session", audit=audits.rate,
    )  # fmt: skip
    widget_streams_per_session: int = variable(
        "MESSENGER_WIDGET_STREAMS_PER_SESSION", values.positive_int, "10",
        "open streams per widget session; one more is refused (429), the oldest kept",
        audit=audits.limit,
    )  # fmt: skip
    widget_streams_per_ip: int = variable(
        "MESSENGER_WIDGET_STREAMS_PER_IP", values.positive_int, "200",
        "open widget streams per client IP (IPv6: per network, see below)", audit=audits.limit,
    )  # fmt: skip
    widget_upload_rate_per_session: Rate = variable(
        "MESSENGER_WIDGET_UPLOAD_RATE_PER_SESSION", values.parse_rate, "10/minute",
        "uploads per widget session", audit=audits.rate,
    )  # fmt: skip
    widget_upload_rate_per_ip: Rate = variable(
        "MESSENGER_WIDGET_UPLOAD_RATE_PER_IP", values.parse_rate, "30/minute",
        "uploads per client IP", audit=audits.rate,
    )  # fmt: skip
    widget_download_rate_per_ip: Rate = variable(
        "MESSENGER_WIDGET_DOWNLOAD_RATE_PER_IP", values.parse_rate, "120/minute",
        "attachment downloads through widget links per client IP", audit=audits.rate,
    )  # fmt: skip
    ipv6_prefix: int = variable(
        "MESSENGER_IPV6_PREFIX", values.int_between(32, 128), "64",
        "per-IP limits count an IPv6 client by its network of this many bits (32–128)",  # noqa: RUF001
        audit=audits.limit,
    )  # fmt: skip
    # uploads
    upload_quota_bytes: int = variable(
        "MESSENGER_UPLOAD_QUOTA_BYTES",
        values.positive_int,
        "52428800",
        "bytes one widget session may upload in 24 hours (then 413 `upload_quota_exceeded`)",
    )
    upload_ttl_seconds: float = variable(
        "MESSENGER_UPLOAD_TTL_SECONDS",
        values.seconds,
        "86400",
        "uploads never sent in a message are deleted this long after upload by "
        "`messenger cleanup` (docs/runbook.md)",
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
    assignment_offline_minutes: int = variable(
        "MESSENGER_ASSIGNMENT_OFFLINE_MINUTES",
        values.positive_int,
        "10",
        "minutes offline after which an operator's conversations awaiting an answer are unassigned",
    )
    day_ticker_seconds: float = variable(
        "MESSENGER_DAY_TICKER_SECONDS",
        values.seconds,
        "30",
        "how often each process wakes due snoozes and unassigns offline operators' conversations",
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings.from_env()
