"""Settings of the service itself: its stores, its address and secrets, its environment.

Each field is one environment variable (:func:`~messenger.config.declaration.variable`);
:class:`messenger.config.settings.Settings` is every section together, in this order.
"""

# ruff: noqa: RUF009  (variable() is this dataclass's field specifier, like field())
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from messenger.config import audit as audits
from messenger.config import values
from messenger.config.declaration import variable
from messenger.config.values import DbPooler, Environment, Locale, Network

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """The service itself: its stores, its address and secrets, its environment."""

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
    db_pooler: DbPooler = variable(
        "MESSENGER_DB_POOLER",
        values.db_pooler,
        "none",
        "`transaction`: `DATABASE_URL` points at a transaction-pooling proxy (PgBouncer "
        "`pool_mode = transaction`): no statement cache, no named prepared statement kept, no "
        "startup parameter but `application_name`; `none`: a direct connection",
        audit=audits.db_pooler,
    )
    redis_url: str | None = variable(
        "REDIS_URL",
        values.redis_url,
        None,
        "Redis for throttling, sessions, presence, typing, challenges and live fan-out",
        default_doc="unset → in-memory (one process only)",
    )
    redis_sentinels: tuple[tuple[str, int], ...] = variable(
        "REDIS_SENTINELS",
        values.sentinels,
        "",
        "Redis Sentinel addresses, `host:port,host:port`: the primary is found (and found "
        "again after a failover) through them; `REDIS_URL`, if set, gives only its password, "
        "user, database number and TLS",
        default_doc="empty → `REDIS_URL` is the primary",
    )
    redis_sentinel_master: str | None = variable(
        "REDIS_SENTINEL_MASTER",
        values.text,
        None,
        "the primary's name in the sentinels' configuration (`sentinel monitor NAME …`)",
        constraint=values.sentinel_master,
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
        values.storage_url,
        None,
        "where attachments are kept: `file:///absolute/path`, or an S3-compatible object store "
        "`s3://bucket/prefix` (every app host then serves every file)",
        default_doc="unset → `MESSENGER_DATA_DIR/attachments`",
    )
    s3_endpoint: str | None = variable(
        "MESSENGER_S3_ENDPOINT",
        values.http_url,
        None,
        "the object store's address for a store that is not AWS (MinIO, Yandex Object Storage: "
        "`https://storage.yandexcloud.net`)",
        default_doc="unset → AWS (or `AWS_ENDPOINT_URL`)",
    )
    s3_region: str | None = variable(
        "MESSENGER_S3_REGION",
        values.text,
        None,
        "the bucket's region (`ru-central1`, `eu-west-1`…)",
        default_doc="unset → `AWS_REGION` / `AWS_DEFAULT_REGION`",
    )
    s3_access_key_id: str | None = variable(
        "MESSENGER_S3_ACCESS_KEY_ID",
        values.text,
        None,
        "the object store's access key id",
        default_doc="unset → `AWS_ACCESS_KEY_ID` or the host's role",
    )
    s3_secret_access_key: str | None = variable(
        "MESSENGER_S3_SECRET_ACCESS_KEY",
        values.text,
        None,
        "the object store's secret key (never logged)",
        default_doc="unset → `AWS_SECRET_ACCESS_KEY` or the host's role",
    )
    redis_prefix: str = variable(
        "MESSENGER_REDIS_PREFIX",
        values.redis_prefix,
        "messenger",
        "prefix of every Redis key and channel (several deployments can share one Redis)",
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
    ipv6_prefix: int = variable(
        "MESSENGER_IPV6_PREFIX", values.int_between(32, 128), "64",
        "per-IP limits count an IPv6 client by its network of this many bits (32–128)",  # noqa: RUF001
        audit=audits.limit,
    )  # fmt: skip
