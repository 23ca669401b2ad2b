"""The one settings module: every ``MESSENGER_*`` variable (and the two URLs), typed, read once.

A bad value stops start-up with a :class:`SettingsError` that names the variable and says
what is wrong. Checks that need the database (``MESSENGER_DEFAULT_BRANCH_ID`` naming an
existing branch) run at application start-up, see :func:`messenger.app.create_app`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

__all__ = [
    "Rate",
    "Settings",
    "SettingsError",
    "get_settings",
    "parse_rate",
]

Locale = Literal["ru", "en"]
SUPPORTED_LOCALES: tuple[Locale, ...] = ("ru", "en")

_RATE_RE = re.compile(
    r"^\s*(?P<limit>\d+)\s*/\s*(?P<count>\d*)\s*"
    r"(?P<unit>s|sec|second|seconds|m|min|minute|minutes|h|hour|hours|d|day|days)\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
DEFAULT_POLL_MIN_INTERVAL = 1.0


class SettingsError(ValueError):
    """A configuration value is wrong; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


@dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` requests per ``window_seconds``; written ``30/minute``, ``5/10s``, ``1000/day``."""

    limit: int
    window_seconds: int

    def __str__(self) -> str:
        for seconds, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
            if self.window_seconds == seconds:
                return f"{self.limit}/{unit}"
        return f"{self.limit}/{self.window_seconds}s"


def parse_rate(text: str, variable: str = "rate") -> Rate:
    """Parse ``N/unit`` or ``N/Kunit`` (unit: second, minute, hour, day or s/m/h/d)."""
    match = _RATE_RE.match(text)
    if match is None:
        msg = (
            f"{text!r} is not a rate; write '<requests>/<window>', "
            "e.g. '30/minute', '5/10s', '1000/day'"
        )
        raise SettingsError(variable, msg)
    limit = int(match["limit"])
    count = int(match["count"] or 1)
    window = count * _UNIT_SECONDS[match["unit"][0].lower()]
    if limit <= 0:
        raise SettingsError(variable, f"{text!r}: the number of requests must be positive")
    if window <= 0:
        raise SettingsError(variable, f"{text!r}: the window must be positive")
    return Rate(limit=limit, window_seconds=window)


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(name, f"{raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off")


def _str(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip()


def _positive_int(env: Mapping[str, str], name: str) -> int | None:
    raw = _str(env, name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"{raw!r} is not a whole number") from None
    if value <= 0:
        raise SettingsError(name, f"{raw!r} must be a positive whole number")
    return value


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _str(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"{raw!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise SettingsError(name, f"{raw!r} must be a positive, finite number of seconds")
    return value


def _rate(env: Mapping[str, str], name: str, default: str) -> tuple[Rate, bool]:
    """The rate and whether it was left at its default (``messenger check`` warns on those)."""
    raw = _str(env, name)
    return parse_rate(raw if raw is not None else default, name), raw is None


def _database_url(env: Mapping[str, str]) -> str | None:
    url = _str(env, "DATABASE_URL")
    if url is None:
        return None
    # Accept the usual spellings and pin the async drivers we ship.
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        return url
    raise SettingsError(
        "DATABASE_URL",
        f"unsupported scheme in {url.split('://', 1)[0]!r}; use postgresql+asyncpg://user@host/db",
    )


def _redis_url(env: Mapping[str, str]) -> str | None:
    url = _str(env, "REDIS_URL")
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError("REDIS_URL", f"{url!r} is not a redis://, rediss:// or unix:// URL")
    return url


def _trusted_proxies(
    env: Mapping[str, str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    name = "MESSENGER_TRUSTED_PROXIES"
    raw = _str(env, name, "") or ""
    networks = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(name, f"{part!r} is not an IP address or network") from None
    return tuple(networks)


def _environment(env: Mapping[str, str]) -> Literal["production", "development"]:
    """What ``messenger check`` holds the setup to; embedded shortcuts fail in production."""
    name = "MESSENGER_ENV"
    value = (_str(env, name, "production") or "production").lower()
    if value not in {"production", "development"}:
        raise SettingsError(name, f"{value!r}: use 'production' or 'development'")
    return value  # type: ignore[return-value]


def _storage_url(env: Mapping[str, str]) -> str | None:
    url = _str(env, "MESSENGER_STORAGE_URL")
    if url is not None and not url.startswith("file:///"):
        raise SettingsError(
            "MESSENGER_STORAGE_URL", f"{url!r}: only file:///absolute/path is supported"
        )
    return url


def _non_negative_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = _str(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"{raw!r} is not a whole number") from None
    if value < 0:
        raise SettingsError(name, f"{raw!r} must be zero or more")
    return value


def _bounded_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = _non_negative_int(env, name, default)
    if not low <= value <= high:
        raise SettingsError(name, f"{value} must be between {low} and {high}")
    return value


def _redis_prefix(env: Mapping[str, str]) -> str:
    name = "MESSENGER_REDIS_PREFIX"
    value = _str(env, name, "messenger") or "messenger"
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", value):
        raise SettingsError(name, f"{value!r}: use 1-64 letters, digits, '_', '.', ':' or '-'")
    return value


def _locale(env: Mapping[str, str]) -> Locale:
    name = "MESSENGER_DEFAULT_LOCALE"
    raw = (_str(env, name, "ru") or "ru").lower()
    if raw not in SUPPORTED_LOCALES:
        raise SettingsError(name, f"{raw!r} is not supported; use 'ru' or 'en'")
    return raw  # type: ignore[return-value]


def _geoip(env: Mapping[str, str]) -> tuple[bool, Path | None]:
    enabled = _bool(env, "MESSENGER_GEOIP_ENABLED", default=False)
    raw = _str(env, "MESSENGER_GEOIP_DB_PATH")
    path = Path(raw) if raw else None
    if not enabled:
        return False, path
    name = "MESSENGER_GEOIP_DB_PATH"
    if path is None:
        raise SettingsError(name, "GeoIP is enabled but no database path is set")
    if not path.is_file():
        raise SettingsError(name, f"GeoIP is enabled but {str(path)!r} is not a file")
    try:
        import maxminddb
        from maxminddb.errors import InvalidDatabaseError

        maxminddb.open_database(str(path)).close()
    except (OSError, ValueError, InvalidDatabaseError) as exc:
        raise SettingsError(
            name, f"{str(path)!r} is not a readable MaxMind database: {exc}"
        ) from None
    return True, path


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the process. Build with :meth:`from_env`; never mutate."""

    database_url: str | None = None
    redis_url: str | None = None
    enabled: bool = True
    default_branch_id: int | None = None
    geoip_enabled: bool = False
    geoip_db_path: Path | None = None
    widget_bootstrap_rate_per_ip: Rate = Rate(30, 60)
    widget_bootstrap_rate_per_token: Rate = Rate(3000, 60)
    widget_send_rate_per_session: Rate = Rate(20, 60)
    widget_send_rate_per_ip: Rate = Rate(60, 60)
    widget_poll_rate_per_session: Rate = Rate(40, 60)
    widget_poll_min_interval_seconds: float = DEFAULT_POLL_MIN_INTERVAL
    privacy_url: str = ""
    privacy_text: str = ""
    default_locale: Locale = "ru"
    secret_key: str | None = None
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    data_dir: Path = Path("var")
    public_url: str = DEFAULT_PUBLIC_URL
    redis_prefix: str = "messenger"
    environment: Literal["production", "development"] = "production"
    storage_url: str | None = None
    widget_challenge_threshold: int = 10
    stream_heartbeat_seconds: float = 15.0
    widget_challenge_max_number: int = 100_000
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
            raise SettingsError(
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
        defaults: set[str] = set()
        rates: dict[str, Rate] = {}
        rate_defaults = {
            "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP": "30/minute",
            "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN": "3000/minute",
            "MESSENGER_WIDGET_SEND_RATE_PER_SESSION": "20/minute",
            "MESSENGER_WIDGET_SEND_RATE_PER_IP": "60/minute",
            "MESSENGER_WIDGET_POLL_RATE_PER_SESSION": "40/minute",
        }
        for name, default in rate_defaults.items():
            rate, is_default = _rate(env, name, default)
            rates[name] = rate
            if is_default:
                defaults.add(name)
        if _str(env, "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS") is None:
            defaults.add("MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS")
        geoip_enabled, geoip_path = _geoip(env)
        public_url = (_str(env, "MESSENGER_PUBLIC_URL", DEFAULT_PUBLIC_URL) or "").rstrip("/")
        if not public_url.startswith(("http://", "https://")):
            raise SettingsError("MESSENGER_PUBLIC_URL", f"{public_url!r} is not an http(s) URL")
        secret = _str(env, "MESSENGER_SECRET_KEY")
        if secret is not None and len(secret) < 32:
            raise SettingsError("MESSENGER_SECRET_KEY", "must be at least 32 characters long")
        return cls(
            database_url=_database_url(env),
            redis_url=_redis_url(env),
            enabled=_bool(env, "MESSENGER_ENABLED", default=True),
            default_branch_id=_positive_int(env, "MESSENGER_DEFAULT_BRANCH_ID"),
            geoip_enabled=geoip_enabled,
            geoip_db_path=geoip_path,
            widget_bootstrap_rate_per_ip=rates["MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP"],
            widget_bootstrap_rate_per_token=rates["MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN"],
            widget_send_rate_per_session=rates["MESSENGER_WIDGET_SEND_RATE_PER_SESSION"],
            widget_send_rate_per_ip=rates["MESSENGER_WIDGET_SEND_RATE_PER_IP"],
            widget_poll_rate_per_session=rates["MESSENGER_WIDGET_POLL_RATE_PER_SESSION"],
            widget_poll_min_interval_seconds=_positive_float(
                env, "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS", DEFAULT_POLL_MIN_INTERVAL
            ),
            privacy_url=_str(env, "MESSENGER_PRIVACY_URL", "") or "",
            privacy_text=_str(env, "MESSENGER_PRIVACY_TEXT", "") or "",
            default_locale=_locale(env),
            secret_key=secret,
            trusted_proxies=_trusted_proxies(env),
            data_dir=Path(_str(env, "MESSENGER_DATA_DIR", "var") or "var"),
            public_url=public_url,
            redis_prefix=_redis_prefix(env),
            environment=_environment(env),
            storage_url=_storage_url(env),
            stream_heartbeat_seconds=_positive_float(
                env, "MESSENGER_STREAM_HEARTBEAT_SECONDS", 15.0
            ),
            widget_challenge_threshold=_non_negative_int(
                env, "MESSENGER_WIDGET_CHALLENGE_THRESHOLD", 10
            ),
            widget_challenge_max_number=_bounded_int(
                env, "MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER", 100_000, 1_000, 10_000_000
            ),
            defaults_used=frozenset(defaults),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings.from_env()
