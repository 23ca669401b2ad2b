"""How one variable's text becomes a value: the parsers (types and constraints) of the settings.

Every parser takes the variable's text (stripped, never blank: a blank variable counts as
unset and its default text is parsed instead) and the variable's name, and returns the typed
value or raises :class:`SettingsError` naming the variable and saying what is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "Environment",
    "Locale",
    "Network",
    "Rate",
    "SettingsError",
    "parse_rate",
]

Locale = Literal["ru", "en"]
Environment = Literal["production", "development"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SUPPORTED_LOCALES: tuple[Locale, ...] = ("ru", "en")
ENVIRONMENTS: tuple[Environment, ...] = ("production", "development")
#: What sits between the app and PostgreSQL (``MESSENGER_DB_POOLER``).
DbPooler = Literal["none", "transaction"]
DB_POOLERS: tuple[DbPooler, ...] = ("none", "transaction")

_RATE_RE = re.compile(
    r"^\s*(?P<limit>\d+)\s*/\s*(?P<count>\d*)\s*"
    r"(?P<unit>s|sec|second|seconds|m|min|minute|minutes|h|hour|hours|d|day|days)\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


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

    @property
    def per_second(self) -> float:
        return self.limit / self.window_seconds


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


# --- parsers: (text, variable name) -> value --------------------------------------------------


def text(raw: str, _name: str) -> str:
    return raw


def path(raw: str, _name: str) -> Path:
    return Path(raw)


def boolean(raw: str, name: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(name, f"{raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off")


def whole_number(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(name, f"{raw!r} is not a whole number") from None


def positive_int(raw: str, name: str) -> int:
    value = whole_number(raw, name)
    if value <= 0:
        raise SettingsError(name, f"{raw!r} must be a positive whole number")
    return value


def non_negative_int(raw: str, name: str) -> int:
    value = whole_number(raw, name)
    if value < 0:
        raise SettingsError(name, f"{raw!r} must be zero or more")
    return value


def int_between(low: int, high: int) -> Callable[[str, str], int]:
    """A whole number from ``low`` to ``high`` inclusive."""

    def parse(raw: str, name: str) -> int:
        value = non_negative_int(raw, name)
        if not low <= value <= high:
            raise SettingsError(name, f"{value} must be between {low} and {high}")
        return value

    return parse


def seconds(raw: str, name: str) -> float:
    """A positive, finite number of seconds."""
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"{raw!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise SettingsError(name, f"{raw!r} must be a positive, finite number of seconds")
    return value


def secret(raw: str, name: str) -> str:
    if len(raw) < 32:
        raise SettingsError(name, "must be at least 32 characters long")
    return raw


def database_url(raw: str, name: str) -> str:
    # Accept the usual spellings and pin the async drivers we ship.
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
        if raw.startswith(prefix):
            return "postgresql+asyncpg://" + raw[len(prefix) :]
    if raw.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        return raw
    raise SettingsError(
        name,
        f"unsupported scheme in {raw.split('://', 1)[0]!r}; use postgresql+asyncpg://user@host/db",
    )


def redis_url(raw: str, name: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(name, f"{raw!r} is not a redis://, rediss:// or unix:// URL")
    return raw


def sentinels(raw: str, name: str) -> tuple[tuple[str, int], ...]:
    """``host:port,host:port`` (an IPv6 host in brackets: ``[::1]:26379``)."""
    found: list[tuple[str, int]] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        host, sep, port = part.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(name, f"{part!r} is not host:port")
        found.append((host, int(port)))
    return tuple(found)


def http_url(raw: str, name: str) -> str:
    """An ``http(s)://`` address without the trailing slash."""
    url = raw.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise SettingsError(name, f"{url!r} is not an http(s) URL")
    return url


def storage_url(raw: str, name: str) -> str:
    """``file:///absolute/path`` or ``s3://bucket[/prefix]`` (a DNS-compatible bucket name)."""
    if raw.startswith("file:///"):
        return raw
    if raw.startswith("s3://"):
        bucket = raw.removeprefix("s3://").split("/", 1)[0]
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
            raise SettingsError(name, f"{bucket!r} is not a bucket name (3-63 a-z, 0-9, '.', '-')")
        return raw.rstrip("/")
    raise SettingsError(name, f"{raw!r}: use file:///absolute/path or s3://bucket/prefix")


def networks(raw: str, name: str) -> tuple[Network, ...]:
    """Comma-separated IP addresses or CIDR networks (an empty text is none)."""
    found: list[Network] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(name, f"{part!r} is not an IP address or network") from None
    return tuple(found)


def redis_prefix(raw: str, name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", raw):
        raise SettingsError(name, f"{raw!r}: use 1-64 letters, digits, '_', '.', ':' or '-'")
    return raw


def locale(raw: str, name: str) -> Locale:
    value = raw.lower()
    if value not in SUPPORTED_LOCALES:
        raise SettingsError(name, f"{value!r} is not supported; use 'ru' or 'en'")
    return value


def db_pooler(raw: str, name: str) -> DbPooler:
    value = raw.lower()
    if value not in DB_POOLERS:
        raise SettingsError(name, f"{value!r}: use 'none' or 'transaction'")
    return value


def environment(raw: str, name: str) -> Environment:
    value = raw.lower()
    if value not in ENVIRONMENTS:
        raise SettingsError(name, f"{value!r}: use 'production' or 'development'")
    return value


# --- constraints between variables: (value, the values read before it, name) -> None -----------


def sentinel_master(value: str | None, earlier: Mapping[str, Any], name: str) -> None:
    """Sentinels and the primary's name come together."""
    if earlier["redis_sentinels"] and value is None:
        raise SettingsError(name, "REDIS_SENTINELS is set: name the primary too")
    if value is not None and not earlier["redis_sentinels"]:
        raise SettingsError(name, "set REDIS_SENTINELS too (the sentinels that know it)")


def geoip_database(value: Path | None, earlier: Mapping[str, Any], name: str) -> None:
    """With GeoIP enabled, the path must be a readable MaxMind database."""
    if not earlier["geoip_enabled"]:
        return
    if value is None:
        raise SettingsError(name, "GeoIP is enabled but no database path is set")
    if not value.is_file():
        raise SettingsError(name, f"GeoIP is enabled but {str(value)!r} is not a file")
    try:
        import maxminddb
        from maxminddb.errors import InvalidDatabaseError

        maxminddb.open_database(str(value)).close()
    except (OSError, ValueError, InvalidDatabaseError) as exc:
        raise SettingsError(
            name, f"{str(value)!r} is not a readable MaxMind database: {exc}"
        ) from None
