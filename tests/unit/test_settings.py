"""Settings: defaults, every variable read, one clear error per bad value, start-up checks."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from messenger.config import (
    DEFAULT_PUBLIC_URL,
    VARIABLES,
    Rate,
    Settings,
    SettingsError,
    parse_rate,
)
from tests.support.env import ROOT, cli_env

RATE_VARIABLES = (
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP",
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN",
    "MESSENGER_WIDGET_SEND_RATE_PER_SESSION",
    "MESSENGER_WIDGET_SEND_RATE_PER_IP",
    "MESSENGER_WIDGET_POLL_RATE_PER_SESSION",
)


POLL_INTERVAL = "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS"


#: Every variable the settings read: the declaration is the one list.
CONFIG_VARIABLES = {variable.name for variable in VARIABLES}


A_SECRET = "s" * 32


def write_mmdb(path: Path) -> Path:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(database_type="GeoLite2-City")
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "RU"}})
    writer.to_db_file(str(path))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- defaults -------------------------------------------------------------------------------


def test_defaults_with_an_empty_environment() -> None:
    settings = Settings.from_env({})

    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.embedded is True
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.effective_database_url.endswith("messenger.sqlite3")
    assert settings.enabled is True
    assert settings.default_branch_id is None
    assert settings.geoip_enabled is False
    assert settings.geoip_db_path is None
    assert settings.widget_bootstrap_rate_per_ip == Rate(30, 60)
    assert settings.widget_bootstrap_rate_per_token == Rate(3000, 60)
    assert settings.widget_send_rate_per_session == Rate(20, 60)
    assert settings.widget_send_rate_per_ip == Rate(60, 60)
    assert settings.widget_poll_rate_per_session == Rate(40, 60)
    assert settings.widget_poll_min_interval_seconds == 1.0
    assert settings.privacy_url == ""
    assert settings.privacy_text == ""
    assert settings.default_locale == "ru"
    assert settings.secret_key is None
    assert settings.trusted_proxies == ()
    assert settings.public_url == DEFAULT_PUBLIC_URL
    assert settings.redis_prefix == "messenger"
    assert settings.data_dir == Path("var")
    assert settings.storage_url is None
    assert settings.widget_challenge_threshold == 10
    assert settings.widget_challenge_max_number == 100_000
    assert settings.stream_heartbeat_seconds == 15.0
    assert settings.defaults_used == frozenset({*RATE_VARIABLES, POLL_INTERVAL})


def test_the_declaration_is_complete_and_matches_the_settings_object() -> None:
    """One declared variable per setting; the attribute names the code uses stay."""
    attributes = [f.name for f in dataclasses.fields(Settings) if f.name != "defaults_used"]
    assert [v.attribute for v in VARIABLES] == attributes
    assert {v.name: v.attribute for v in VARIABLES} == {
        "DATABASE_URL": "database_url",
        "MESSENGER_DB_POOL_SIZE": "db_pool_size",
        "MESSENGER_DB_POOLER": "db_pooler",
        "REDIS_URL": "redis_url",
        "REDIS_SENTINELS": "redis_sentinels",
        "REDIS_SENTINEL_MASTER": "redis_sentinel_master",
        "MESSENGER_ENABLED": "enabled",
        "MESSENGER_DEFAULT_BRANCH_ID": "default_branch_id",
        "MESSENGER_GEOIP_ENABLED": "geoip_enabled",
        "MESSENGER_GEOIP_DB_PATH": "geoip_db_path",
        "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP": "widget_bootstrap_rate_per_ip",
        "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN": "widget_bootstrap_rate_per_token",
        "MESSENGER_WIDGET_SEND_RATE_PER_SESSION": "widget_send_rate_per_session",
        "MESSENGER_WIDGET_SEND_RATE_PER_IP": "widget_send_rate_per_ip",
        "MESSENGER_WIDGET_POLL_RATE_PER_SESSION": "widget_poll_rate_per_session",
        POLL_INTERVAL: "widget_poll_min_interval_seconds",
        "MESSENGER_WIDGET_CHALLENGE_THRESHOLD": "widget_challenge_threshold",
        "MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER": "widget_challenge_max_number",
        "MESSENGER_PRIVACY_URL": "privacy_url",
        "MESSENGER_PRIVACY_TEXT": "privacy_text",
        "MESSENGER_DEFAULT_LOCALE": "default_locale",
        "MESSENGER_SECRET_KEY": "secret_key",
        "MESSENGER_TRUSTED_PROXIES": "trusted_proxies",
        "MESSENGER_PUBLIC_URL": "public_url",
        "MESSENGER_DATA_DIR": "data_dir",
        "MESSENGER_STORAGE_URL": "storage_url",
        "MESSENGER_S3_ENDPOINT": "s3_endpoint",
        "MESSENGER_S3_REGION": "s3_region",
        "MESSENGER_S3_ACCESS_KEY_ID": "s3_access_key_id",
        "MESSENGER_S3_SECRET_ACCESS_KEY": "s3_secret_access_key",
        "MESSENGER_REDIS_PREFIX": "redis_prefix",
        "MESSENGER_STREAM_HEARTBEAT_SECONDS": "stream_heartbeat_seconds",
        "MESSENGER_ENV": "environment",
        # staff sessions and sign-in
        "MESSENGER_SIGNIN_FREE_FAILURES": "signin_free_failures",
        "MESSENGER_SIGNIN_MAX_DELAY_SECONDS": "signin_max_delay_seconds",
        "MESSENGER_SIGNIN_WINDOW_SECONDS": "signin_window_seconds",
        "MESSENGER_SIGNIN_CHALLENGE_AFTER": "signin_challenge_after",
        "MESSENGER_STAFF_ACCESS_CHECK_SECONDS": "staff_access_check_seconds",
        # widget limits
        "MESSENGER_WIDGET_TYPING_RATE_PER_SESSION": "widget_typing_rate_per_session",
        "MESSENGER_WIDGET_READ_RATE_PER_SESSION": "widget_read_rate_per_session",
        "MESSENGER_WIDGET_TICKET_RATE_PER_SESSION": "widget_ticket_rate_per_session",
        "MESSENGER_WIDGET_TRANSCRIPT_RATE_PER_SESSION": "widget_transcript_rate_per_session",
        "MESSENGER_WIDGET_STREAMS_PER_SESSION": "widget_streams_per_session",
        "MESSENGER_WIDGET_STREAMS_PER_IP": "widget_streams_per_ip",
        "MESSENGER_WIDGET_UPLOAD_RATE_PER_SESSION": "widget_upload_rate_per_session",
        "MESSENGER_WIDGET_UPLOAD_RATE_PER_IP": "widget_upload_rate_per_ip",
        "MESSENGER_WIDGET_DOWNLOAD_RATE_PER_IP": "widget_download_rate_per_ip",
        "MESSENGER_IPV6_PREFIX": "ipv6_prefix",
        # uploads
        "MESSENGER_UPLOAD_QUOTA_BYTES": "upload_quota_bytes",
        "MESSENGER_UPLOAD_TTL_SECONDS": "upload_ttl_seconds",
        "MESSENGER_REDIS_TIMEOUT_SECONDS": "redis_timeout_seconds",
        "MESSENGER_STREAM_CATCH_UP_SECONDS": "stream_catch_up_seconds",
        # the job worker, webhooks, e-mail
        "MESSENGER_WORKER_POLL_SECONDS": "worker_poll_seconds",
        "MESSENGER_WORKER_CONCURRENCY": "worker_concurrency",
        "MESSENGER_WORKER_LEASE_SECONDS": "worker_lease_seconds",
        "MESSENGER_WORKER_HEALTH_PORT": "worker_health_port",
        "MESSENGER_WEBHOOK_ALLOW_PRIVATE": "webhook_allow_private",
        "MESSENGER_WEBHOOK_TIMEOUT_SECONDS": "webhook_timeout_seconds",
        "MESSENGER_WEBHOOK_BACKOFF_SECONDS": "webhook_backoff_seconds",
        "MESSENGER_WEBHOOK_BACKOFF_MAX_SECONDS": "webhook_backoff_max_seconds",
        "MESSENGER_WEBHOOK_RETRY_SECONDS": "webhook_retry_seconds",
        "MESSENGER_WEBHOOK_DISABLE_AFTER": "webhook_disable_after",
        "MESSENGER_SMTP_URL": "smtp_url",
        "MESSENGER_MAIL_FROM": "mail_from",
        "MESSENGER_MAIL_OFFLINE_AFTER_SECONDS": "mail_offline_after_seconds",
        # integration REST API
        "MESSENGER_API_RATE_PER_TOKEN": "api_rate_per_token",
        "MESSENGER_ASSIGNMENT_OFFLINE_MINUTES": "assignment_offline_minutes",
        "MESSENGER_DAY_TICKER_SECONDS": "day_ticker_seconds",
        "MESSENGER_REPORT_MISSED_AFTER_MINUTES": "report_missed_after_minutes",
        # the visitor's data
        "MESSENGER_RETENTION_DAYS": "retention_days",
        "MESSENGER_RETENTION_MODE": "retention_mode",
        "MESSENGER_RETENTION_BATCH_SIZE": "retention_batch_size",
        "MESSENGER_AUDIT_RETENTION_DAYS": "audit_retention_days",
    }
    assert {v.name for v in VARIABLES if v.warn_at_default} == {*RATE_VARIABLES, POLL_INTERVAL}


@pytest.mark.parametrize("variable", VARIABLES, ids=lambda v: v.name)
def test_a_declared_default_is_what_writing_it_out_gives(variable) -> None:
    """The default text in the declaration (and the README) means the value used when unset."""
    unset = getattr(Settings.from_env({}), variable.attribute)
    assert unset == variable.default_value
    if variable.default:
        written = Settings.from_env({variable.name: variable.default})
        assert getattr(written, variable.attribute) == unset


@pytest.mark.parametrize("value", ["", "  "])
@pytest.mark.parametrize("variable", ["MESSENGER_ENABLED", "MESSENGER_GEOIP_ENABLED"])
def test_an_empty_boolean_is_off(variable: str, value: str) -> None:
    """As before the declaration: ``MESSENGER_ENABLED=`` switches the widget API off."""
    settings = Settings.from_env({variable: value})
    assert getattr(settings, variable.removeprefix("MESSENGER_").lower()) is False


def test_blank_values_count_as_unset() -> None:
    blank = {name: "  " for name in (*RATE_VARIABLES, POLL_INTERVAL, "MESSENGER_DEFAULT_LOCALE")}

    settings = Settings.from_env(blank)

    assert settings.widget_send_rate_per_ip == Rate(60, 60)
    assert settings.default_locale == "ru"
    assert settings.defaults_used == frozenset({*RATE_VARIABLES, POLL_INTERVAL})


def test_every_variable_is_read(tmp_path: Path) -> None:
    mmdb = write_mmdb(tmp_path / "city.mmdb")
    env = {
        "DATABASE_URL": "postgresql+asyncpg://app@db.internal:5432/messenger",
        "REDIS_URL": "rediss://cache.internal:6380/2",
        "MESSENGER_ENABLED": "off",
        "MESSENGER_DEFAULT_BRANCH_ID": "7",
        "MESSENGER_GEOIP_ENABLED": "yes",
        "MESSENGER_GEOIP_DB_PATH": str(mmdb),
        "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP": "10/minute",
        "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN": "500/10s",
        "MESSENGER_WIDGET_SEND_RATE_PER_SESSION": "5/2m",
        "MESSENGER_WIDGET_SEND_RATE_PER_IP": "100/hour",
        "MESSENGER_WIDGET_POLL_RATE_PER_SESSION": "1000/day",
        POLL_INTERVAL: "2.5",
        "MESSENGER_PRIVACY_URL": "https://shop.example/privacy",
        "MESSENGER_PRIVACY_TEXT": "We keep your messages for a year.",
        "MESSENGER_DEFAULT_LOCALE": "EN",
        "MESSENGER_SECRET_KEY": A_SECRET,
        "MESSENGER_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16,::1",
        "MESSENGER_PUBLIC_URL": "https://chat.example/",
        "MESSENGER_REDIS_PREFIX": "chat:prod",
        "MESSENGER_DATA_DIR": str(tmp_path / "data"),
        "MESSENGER_STORAGE_URL": f"file://{tmp_path}/uploads",
        "MESSENGER_S3_ENDPOINT": "https://storage.yandexcloud.net/",
        "MESSENGER_S3_REGION": "ru-central1",
        "MESSENGER_S3_ACCESS_KEY_ID": "YCAJE-key-id",
        "MESSENGER_S3_SECRET_ACCESS_KEY": "not-a-real-secret",
        "MESSENGER_WIDGET_CHALLENGE_THRESHOLD": "0",
        "MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER": "5000",
        "MESSENGER_STREAM_HEARTBEAT_SECONDS": "0.5",
        "MESSENGER_ENV": "Development",
        # staff sessions and sign-in
        "MESSENGER_SIGNIN_FREE_FAILURES": "3",
        "MESSENGER_SIGNIN_MAX_DELAY_SECONDS": "60",
        "MESSENGER_SIGNIN_WINDOW_SECONDS": "600",
        "MESSENGER_SIGNIN_CHALLENGE_AFTER": "0",
        "MESSENGER_STAFF_ACCESS_CHECK_SECONDS": "1.5",
        # widget limits
        "MESSENGER_WIDGET_TYPING_RATE_PER_SESSION": "7/10s",
        "MESSENGER_WIDGET_READ_RATE_PER_SESSION": "8/10s",
        "MESSENGER_WIDGET_TICKET_RATE_PER_SESSION": "9/10s",
        "MESSENGER_WIDGET_TRANSCRIPT_RATE_PER_SESSION": "2/day",
        "MESSENGER_WIDGET_STREAMS_PER_SESSION": "3",
        "MESSENGER_WIDGET_STREAMS_PER_IP": "40",
        "MESSENGER_WIDGET_UPLOAD_RATE_PER_SESSION": "4/minute",
        "MESSENGER_WIDGET_UPLOAD_RATE_PER_IP": "12/minute",
        "MESSENGER_WIDGET_DOWNLOAD_RATE_PER_IP": "50/minute",
        "MESSENGER_IPV6_PREFIX": "56",
        # uploads
        "MESSENGER_UPLOAD_QUOTA_BYTES": "1048576",
        "MESSENGER_UPLOAD_TTL_SECONDS": "3600",
        "MESSENGER_REDIS_TIMEOUT_SECONDS": "0.25",
        "MESSENGER_STREAM_CATCH_UP_SECONDS": "2",
        "MESSENGER_DB_POOL_SIZE": "25",
        "MESSENGER_DB_POOLER": "Transaction",
        "REDIS_SENTINELS": "10.0.0.5:26379, [fd00::7]:26380",
        "REDIS_SENTINEL_MASTER": "chat",
        # the job worker, webhooks, e-mail
        "MESSENGER_WORKER_POLL_SECONDS": "0.5",
        "MESSENGER_WORKER_CONCURRENCY": "4",
        "MESSENGER_WORKER_LEASE_SECONDS": "30",
        "MESSENGER_WORKER_HEALTH_PORT": "0",
        "MESSENGER_WEBHOOK_ALLOW_PRIVATE": "1",
        "MESSENGER_WEBHOOK_TIMEOUT_SECONDS": "5",
        "MESSENGER_WEBHOOK_BACKOFF_SECONDS": "2",
        "MESSENGER_WEBHOOK_BACKOFF_MAX_SECONDS": "600",
        "MESSENGER_WEBHOOK_RETRY_SECONDS": "172800",
        "MESSENGER_WEBHOOK_DISABLE_AFTER": "20",
        "MESSENGER_SMTP_URL": "smtps://user:p%40ss@mail.example.org:465",
        "MESSENGER_MAIL_FROM": "Support <support@example.org>",
        "MESSENGER_MAIL_OFFLINE_AFTER_SECONDS": "0",
        "MESSENGER_API_RATE_PER_TOKEN": "100/minute",
        # the operator's day
        "MESSENGER_ASSIGNMENT_OFFLINE_MINUTES": "15",
        "MESSENGER_DAY_TICKER_SECONDS": "12.5",
        "MESSENGER_REPORT_MISSED_AFTER_MINUTES": "30",
        # the visitor's data
        "MESSENGER_RETENTION_DAYS": "730",
        "MESSENGER_RETENTION_MODE": "Delete",
        "MESSENGER_RETENTION_BATCH_SIZE": "200",
        "MESSENGER_AUDIT_RETENTION_DAYS": "90",
    }
    assert set(env) == CONFIG_VARIABLES  # a new variable gets a line here

    settings = Settings.from_env(env)

    assert settings.database_url == "postgresql+asyncpg://app@db.internal:5432/messenger"
    assert settings.embedded is False
    assert settings.effective_database_url == settings.database_url
    assert settings.redis_url == "rediss://cache.internal:6380/2"
    assert settings.enabled is False
    assert settings.default_branch_id == 7
    assert settings.geoip_enabled is True
    assert settings.geoip_db_path == mmdb
    assert settings.widget_bootstrap_rate_per_ip == Rate(10, 60)
    assert settings.widget_bootstrap_rate_per_token == Rate(500, 10)
    assert settings.widget_send_rate_per_session == Rate(5, 120)
    assert settings.widget_send_rate_per_ip == Rate(100, 3600)
    assert settings.widget_poll_rate_per_session == Rate(1000, 86400)
    assert settings.widget_poll_min_interval_seconds == 2.5
    assert settings.privacy_url == "https://shop.example/privacy"
    assert settings.privacy_text == "We keep your messages for a year."
    assert settings.default_locale == "en"
    assert settings.secret_key == A_SECRET
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.1/32"),
        ipaddress.ip_network("192.168.0.0/16"),
        ipaddress.ip_network("::1/128"),
    )
    assert settings.public_url == "https://chat.example"
    assert settings.redis_prefix == "chat:prod"
    assert settings.redis_timeout_seconds == 0.25
    assert settings.db_pool_size == 25
    assert settings.db_pooler == "transaction"
    assert settings.redis_sentinels == (("10.0.0.5", 26379), ("fd00::7", 26380))
    assert settings.redis_sentinel_master == "chat"
    assert settings.api_rate_per_token == Rate(100, 60)
    assert settings.assignment_offline_minutes == 15
    assert settings.day_ticker_seconds == 12.5
    assert settings.report_missed_after_minutes == 30
    assert settings.retention_days == 730
    assert settings.retention_mode == "delete"
    assert settings.retention_batch_size == 200
    assert settings.audit_retention_days == 90
    assert settings.stream_catch_up_seconds == 2.0
    assert settings.worker_health_port == 0
    assert settings.webhook_allow_private is True
    assert settings.mail_enabled is True
    assert settings.mail_offline_after_seconds == 0.0
    assert settings.data_dir == tmp_path / "data"
    assert settings.storage_url == f"file://{tmp_path}/uploads"
    assert settings.s3_endpoint == "https://storage.yandexcloud.net"
    assert settings.s3_region == "ru-central1"
    assert settings.s3_access_key_id == "YCAJE-key-id"
    assert settings.s3_secret_access_key == "not-a-real-secret"
    assert settings.widget_challenge_threshold == 0
    assert settings.widget_challenge_max_number == 5000
    assert settings.stream_heartbeat_seconds == 0.5
    assert settings.environment == "development"
    assert settings.signin_free_failures == 3
    assert settings.signin_max_delay_seconds == 60
    assert settings.signin_window_seconds == 600
    assert settings.signin_challenge_after == 0
    assert settings.staff_access_check_seconds == 1.5
    assert settings.widget_typing_rate_per_session == Rate(7, 10)
    assert settings.widget_read_rate_per_session == Rate(8, 10)
    assert settings.widget_ticket_rate_per_session == Rate(9, 10)
    assert settings.widget_transcript_rate_per_session == Rate(2, 86400)
    assert settings.widget_streams_per_session == 3
    assert settings.widget_streams_per_ip == 40
    assert settings.widget_upload_rate_per_session == Rate(4, 60)
    assert settings.widget_upload_rate_per_ip == Rate(12, 60)
    assert settings.widget_download_rate_per_ip == Rate(50, 60)
    assert settings.ipv6_prefix == 56
    assert settings.upload_quota_bytes == 1048576
    assert settings.upload_ttl_seconds == 3600.0
    assert settings.defaults_used == frozenset()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite+aiosqlite:////tmp/m.sqlite3", "sqlite+aiosqlite:////tmp/m.sqlite3"),
    ],
)
def test_database_url_spellings_pin_the_async_driver(raw: str, expected: str) -> None:
    assert Settings.from_env({"DATABASE_URL": raw}).database_url == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30/minute", Rate(30, 60)),
        ("5/10s", Rate(5, 10)),
        ("1000/day", Rate(1000, 86400)),
        ("2/h", Rate(2, 3600)),
        ("3/SEC", Rate(3, 1)),
        (" 7 / 2 minutes ", Rate(7, 120)),
        ("1/second", Rate(1, 1)),
    ],
)
def test_parse_rate(text: str, expected: Rate) -> None:
    assert parse_rate(text) == expected


def test_geoip_path_is_not_checked_while_geoip_is_off(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"MESSENGER_GEOIP_ENABLED": "0", "MESSENGER_GEOIP_DB_PATH": str(tmp_path / "none.mmdb")}
    )
    assert settings.geoip_enabled is False


# --- bad values -----------------------------------------------------------------------------


def assert_rejected(env: dict[str, str], variable: str) -> SettingsError:
    with pytest.raises(SettingsError) as excinfo:
        Settings.from_env(env)
    assert excinfo.value.variable == variable
    assert str(excinfo.value).startswith(f"{variable}: ")
    assert excinfo.value.problem
    return excinfo.value


@pytest.mark.parametrize("variable", RATE_VARIABLES)
@pytest.mark.parametrize("value", ["lots", "30", "30/fortnight", "/minute", "thirty/minute"])
def test_unparseable_rate(variable: str, value: str) -> None:
    error = assert_rejected({variable: value}, variable)
    assert "30/minute" in error.problem  # says how to write one


@pytest.mark.parametrize("variable", RATE_VARIABLES)
def test_zero_requests_rate(variable: str) -> None:
    error = assert_rejected({variable: "0/minute"}, variable)
    assert "positive" in error.problem


def test_zero_window_rate() -> None:
    error = assert_rejected(
        {"MESSENGER_WIDGET_SEND_RATE_PER_IP": "5/0s"}, "MESSENGER_WIDGET_SEND_RATE_PER_IP"
    )
    assert "window" in error.problem


@pytest.mark.parametrize("value", ["0", "-1", "-0.5", "0.0"])
def test_non_positive_poll_interval(value: str) -> None:
    assert_rejected({POLL_INTERVAL: value}, POLL_INTERVAL)


@pytest.mark.parametrize("value", ["soon", "1s", "one"])
def test_non_numeric_poll_interval(value: str) -> None:
    assert_rejected({POLL_INTERVAL: value}, POLL_INTERVAL)


@pytest.mark.parametrize("value", ["inf", "Infinity", "nan"])
def test_infinite_or_nan_poll_interval(value: str) -> None:
    assert_rejected({POLL_INTERVAL: value}, POLL_INTERVAL)


@pytest.mark.parametrize("variable", ["MESSENGER_ENABLED", "MESSENGER_GEOIP_ENABLED"])
@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_bad_boolean(variable: str, value: str) -> None:
    error = assert_rejected({variable: value}, variable)
    assert "boolean" in error.problem


@pytest.mark.parametrize("value", ["0", "-3", "abc", "1.5"])
def test_bad_default_branch_id(value: str) -> None:
    assert_rejected({"MESSENGER_DEFAULT_BRANCH_ID": value}, "MESSENGER_DEFAULT_BRANCH_ID")


def test_geoip_enabled_without_a_path() -> None:
    error = assert_rejected({"MESSENGER_GEOIP_ENABLED": "1"}, "MESSENGER_GEOIP_DB_PATH")
    assert "no database path" in error.problem


def test_geoip_enabled_with_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "GeoLite2-City.mmdb"
    error = assert_rejected(
        {"MESSENGER_GEOIP_ENABLED": "1", "MESSENGER_GEOIP_DB_PATH": str(missing)},
        "MESSENGER_GEOIP_DB_PATH",
    )
    assert str(missing) in error.problem


def test_geoip_enabled_with_a_directory(tmp_path: Path) -> None:
    assert_rejected(
        {"MESSENGER_GEOIP_ENABLED": "1", "MESSENGER_GEOIP_DB_PATH": str(tmp_path)},
        "MESSENGER_GEOIP_DB_PATH",
    )


@pytest.mark.parametrize("content", [b"", b"not a maxmind database\n", b"\x00" * 4096])
def test_geoip_enabled_with_a_file_that_is_not_mmdb(tmp_path: Path, content: bytes) -> None:
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(content)
    error = assert_rejected(
        {"MESSENGER_GEOIP_ENABLED": "1", "MESSENGER_GEOIP_DB_PATH": str(junk)},
        "MESSENGER_GEOIP_DB_PATH",
    )
    assert "MaxMind" in error.problem


@pytest.mark.parametrize("value", ["de", "ru-RU", "english"])
def test_bad_locale(value: str) -> None:
    assert_rejected({"MESSENGER_DEFAULT_LOCALE": value}, "MESSENGER_DEFAULT_LOCALE")


def test_short_secret_key() -> None:
    error = assert_rejected({"MESSENGER_SECRET_KEY": "s" * 31}, "MESSENGER_SECRET_KEY")
    assert "32" in error.problem


@pytest.mark.parametrize("value", ["10.0.0.0/8, proxy.internal", "999.1.1.1", "10.0.0.0/33"])
def test_bad_trusted_proxy(value: str) -> None:
    assert_rejected({"MESSENGER_TRUSTED_PROXIES": value}, "MESSENGER_TRUSTED_PROXIES")


@pytest.mark.parametrize("value", ["http://127.0.0.1:6379", "127.0.0.1:6379", "memcached://x"])
def test_bad_redis_url_scheme(value: str) -> None:
    assert_rejected({"REDIS_URL": value}, "REDIS_URL")


@pytest.mark.parametrize(
    "value", ["mysql://u@h/db", "sqlite:///messenger.db", "postgresql+psycopg2://u@h/db"]
)
def test_bad_database_url_scheme(value: str) -> None:
    assert_rejected({"DATABASE_URL": value}, "DATABASE_URL")


@pytest.mark.parametrize("value", ["chat.example", "ftp://chat.example", "//chat.example"])
def test_bad_public_url(value: str) -> None:
    assert_rejected({"MESSENGER_PUBLIC_URL": value}, "MESSENGER_PUBLIC_URL")


@pytest.mark.parametrize("value", ["has space", "x" * 65, "a/b"])
def test_bad_redis_prefix(value: str) -> None:
    assert_rejected({"MESSENGER_REDIS_PREFIX": value}, "MESSENGER_REDIS_PREFIX")


@pytest.mark.parametrize(
    "value", ["/srv/uploads", "s3://Bucket_Name/uploads", "s3://", "gs://bucket", "file://relative"]
)
def test_bad_storage_url(value: str) -> None:
    assert_rejected({"MESSENGER_STORAGE_URL": value}, "MESSENGER_STORAGE_URL")


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("s3://chat-files/uploads/", "s3://chat-files/uploads"),
        ("s3://chat.files", "s3://chat.files"),
    ],
)
def test_an_object_store_url_is_accepted(value: str, kept: str) -> None:
    assert Settings.from_env({"MESSENGER_STORAGE_URL": value}).storage_url == kept


@pytest.mark.parametrize("value", ["-1", "ten", "2.5"])
def test_bad_challenge_threshold(value: str) -> None:
    assert_rejected(
        {"MESSENGER_WIDGET_CHALLENGE_THRESHOLD": value}, "MESSENGER_WIDGET_CHALLENGE_THRESHOLD"
    )


@pytest.mark.parametrize("value", ["999", "10000001", "-5", "lots"])
def test_bad_challenge_max_number(value: str) -> None:
    assert_rejected(
        {"MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER": value}, "MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER"
    )


@pytest.mark.parametrize("value", ["0", "-2", "inf", "often"])
def test_bad_stream_heartbeat(value: str) -> None:
    assert_rejected(
        {"MESSENGER_STREAM_HEARTBEAT_SECONDS": value}, "MESSENGER_STREAM_HEARTBEAT_SECONDS"
    )


def test_readme_documents_every_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    assert {name for name in CONFIG_VARIABLES if f"`{name}`" not in readme} == set()


def test_embedded_mode_needs_no_secret_but_postgres_does(tmp_path: Path) -> None:
    embedded = Settings.from_env({"MESSENGER_DATA_DIR": str(tmp_path)})
    key = embedded.require_secret_key()
    assert len(key) >= 32
    assert embedded.require_secret_key() == key  # kept in the data directory

    with pytest.raises(SettingsError) as excinfo:
        Settings.from_env({"DATABASE_URL": "postgresql://u@h/db"}).require_secret_key()
    assert excinfo.value.variable == "MESSENGER_SECRET_KEY"


# --- MESSENGER_DEFAULT_BRANCH_ID must name a branch -------------------------------------------


def run_serve(env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    """``messenger serve`` that is expected to stop on its own (a timeout means it started)."""
    return subprocess.run(
        [sys.executable, "-m", "messenger", "serve", "--port", str(port)],
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        check=False,
    )


def test_serve_refuses_to_start_when_the_database_is_unreachable() -> None:
    result = run_serve(
        {
            "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/messenger",
            "MESSENGER_SECRET_KEY": A_SECRET,
            "MESSENGER_DEFAULT_BRANCH_ID": "1",
        },
        free_port(),
    )

    assert result.returncode != 0
    assert "MESSENGER_DEFAULT_BRANCH_ID" in result.stderr
    assert "database" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["prod", "staging", "dev"])
def test_bad_environment(value: str) -> None:
    assert_rejected({"MESSENGER_ENV": value}, "MESSENGER_ENV")


@pytest.mark.parametrize(
    ("environment", "status"),
    [
        ({"DATABASE_URL": "postgresql+asyncpg://app@db:6432/messenger"}, "warn"),
        ({"DATABASE_URL": "postgresql+asyncpg://app@pgbouncer/messenger"}, "warn"),
        (
            {
                "DATABASE_URL": "postgresql+asyncpg://app@db:6432/messenger",
                "MESSENGER_DB_POOLER": "transaction",
            },
            "pass",
        ),
        ({"DATABASE_URL": "postgresql+asyncpg://app@db:5432/messenger"}, "pass"),
    ],
)
def test_check_warns_when_the_url_looks_like_pgbouncer_without_the_pooler_setting(
    environment: dict[str, str], status: str
) -> None:
    from messenger.config.derived import settings_audit

    settings = Settings.from_env(environment)
    (item,) = [r for r in settings_audit(settings, environment) if r.name == "db_pooler"]
    assert item.status == status


def test_an_unknown_pooler_is_refused_with_its_name() -> None:
    with pytest.raises(SettingsError, match="MESSENGER_DB_POOLER"):
        Settings.from_env({"MESSENGER_DB_POOLER": "session"})


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"REDIS_SENTINELS": "10.0.0.5"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "10.0.0.5:0"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "10.0.0.5:26379"}, "REDIS_SENTINEL_MASTER"),
        ({"REDIS_SENTINEL_MASTER": "chat"}, "REDIS_SENTINEL_MASTER"),
    ],
)
def test_sentinels_and_their_primary_come_together(
    environment: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environment)


def test_sentinels_mean_shared_state_in_redis() -> None:
    settings = Settings.from_env(
        {"REDIS_SENTINELS": "127.0.0.1:26379", "REDIS_SENTINEL_MASTER": "chat"}
    )
    assert settings.redis_url is None
    assert settings.uses_redis is True
    assert Settings.from_env({}).uses_redis is False
