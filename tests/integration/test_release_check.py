"""`messenger check`: a production-like setup passes; each bad item fails with its own reason."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from messenger.checks import release_check
from messenger.config import VARIABLES, Settings, settings_audit
from messenger.db.models import OutboxEntry, RoutingRule, WorkerHeartbeat
from messenger.i18n import use_locale
from tests.support.env import admin_sql, asyncpg_url, cli_env, dsn_for, run_cli
from tests.support.factories import make_branch, make_inbox

GOOD = {
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP": "20/minute",
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN": "5000/minute",
    "MESSENGER_WIDGET_SEND_RATE_PER_SESSION": "15/minute",
    "MESSENGER_WIDGET_SEND_RATE_PER_IP": "120/minute",
    "MESSENGER_WIDGET_POLL_RATE_PER_SESSION": "30/minute",
    "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS": "2",
    "MESSENGER_GEOIP_ENABLED": "0",
    "MESSENGER_PRIVACY_URL": "https://crm.example.org/privacy",
    "MESSENGER_PRIVACY_TEXT": "Мы обрабатываем данные, чтобы ответить вам.",
    "MESSENGER_TRUSTED_PROXIES": "10.0.0.5",
    "MESSENGER_SMTP_URL": "smtp://mail.example.org:587?starttls=1",
    "MESSENGER_MAIL_FROM": "support@crm.example.org",
    "MESSENGER_RETENTION_DAYS": "365",
}


async def good_setup(db_session):
    moscow = await make_branch(db_session, "Moscow")
    kazan = await make_branch(db_session, "Kazan")
    await make_inbox(db_session, name="Shop", branch=moscow, domains=["shop.ru", "*.shop.ru"])
    global_inbox = await make_inbox(db_session, name="Portal", domains=["portal.ru"])
    db_session.add(
        RoutingRule(
            inbox_id=global_inbox.id,
            position=1,
            conditions={"cities": ["Kazan"]},
            target_branch_id=kazan.id,
        )
    )
    now = datetime.now(UTC)
    db_session.add(WorkerHeartbeat(name="worker-1", started_at=now, beat_at=now))
    await db_session.commit()
    return moscow


async def run(env, **overrides):
    environment = {**env, **GOOD, **overrides}
    environment = {k: v for k, v in environment.items() if v is not None}
    with use_locale("en"):
        results = await release_check(Settings.from_env(environment), environment)
    return {r.name: r for r in results}


def only(results, status):
    return {name: r.reason for name, r in results.items() if r.status == status}


async def test_a_production_like_setup_passes(env, db_session):
    branch = await good_setup(db_session)
    results = await run(env, MESSENGER_DEFAULT_BRANCH_ID=str(branch.id))
    assert only(results, "fail") == {}
    assert only(results, "warn") == {}
    assert {
        "database",
        "migrations",
        "redis",
        "default_branch",
        "privacy",
        "inbox_tokens",
        "inbox:Shop",
        "routing:Portal",
        "worker",
        "outbox",
        "mail",
    } <= set(results)


async def test_no_retention_warns_in_production_only(env, db_session):
    branch = await good_setup(db_session)
    kept_forever = await run(
        env, MESSENGER_DEFAULT_BRANCH_ID=str(branch.id), MESSENGER_RETENTION_DAYS=None
    )
    assert only(kept_forever, "warn") == {
        "retention": "MESSENGER_RETENTION_DAYS is not set: visitors' data is kept forever."
    }
    development = await run(
        env,
        MESSENGER_DEFAULT_BRANCH_ID=str(branch.id),
        MESSENGER_RETENTION_DAYS=None,
        MESSENGER_ENV="development",
    )
    assert development["retention"].status == "pass"
    assert (
        "365 days"
        in (await run(env, MESSENGER_DEFAULT_BRANCH_ID=str(branch.id)))["retention"].reason
    )


async def test_sqlite_fails_in_production_and_warns_in_development(env, tmp_path):
    embedded = {"DATABASE_URL": None, "MESSENGER_DATA_DIR": str(tmp_path)}
    production = await run(env, **embedded)
    assert production["database"].status == "fail"
    assert "SQLite" in production["database"].reason
    development = await run(env, **embedded, MESSENGER_ENV="development")
    assert development["database"].status == "warn"


async def test_migrations_behind_head_fail(env):
    name = "messenger_test_check_behind"
    await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin_sql(f'CREATE DATABASE "{name}"')
    dsn = dsn_for(name)
    try:
        run_cli(
            "db",
            "upgrade",
            "0001_initial",
            "--no-prompt",
            env=cli_env(DATABASE_URL=asyncpg_url(dsn)),
            check=True,
        )
        results = await run(env, DATABASE_URL=asyncpg_url(dsn))
        assert results["migrations"].status == "fail"
        assert "0001_initial" in results["migrations"].reason
        assert "messenger db upgrade" in results["migrations"].reason
    finally:
        await admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_unreachable_database_fails(env):
    results = await run(env, DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    assert results["database_reachable"].status == "fail"


async def test_redis_missing_or_silent_fails(env, db_session):
    await good_setup(db_session)
    assert (await run(env, REDIS_URL=None))["redis"].status == "fail"
    silent = await run(env, REDIS_URL="redis://127.0.0.1:1/0")
    assert silent["redis"].status == "fail"
    assert "does not answer" in silent["redis"].reason


async def test_messenger_switched_off_is_reported(env):
    results = await run(env, MESSENGER_ENABLED="0")
    assert results["messenger_enabled"].status == "warn"
    assert "404" in results["messenger_enabled"].reason


async def test_default_branch_must_exist(env, db_session):
    await good_setup(db_session)
    results = await run(env, MESSENGER_DEFAULT_BRANCH_ID="9999")
    assert results["default_branch"].status == "fail"
    assert "9999" in results["default_branch"].reason


async def test_geoip_left_off_by_default_warns(env):
    results = await run(env, MESSENGER_GEOIP_ENABLED=None)
    assert results["geoip"].status == "warn"
    assert (await run(env))["geoip"].status == "pass"  # switched off on purpose


async def test_widget_limits_left_at_default_warn_and_odd_ones_are_flagged(env):
    results = await run(env, MESSENGER_WIDGET_SEND_RATE_PER_IP=None)
    assert results["MESSENGER_WIDGET_SEND_RATE_PER_IP"].status == "warn"
    assert "default" in results["MESSENGER_WIDGET_SEND_RATE_PER_IP"].reason
    assert results["MESSENGER_WIDGET_SEND_RATE_PER_IP"].status != "fail"
    odd = await run(env, MESSENGER_WIDGET_SEND_RATE_PER_IP="5/minute")
    assert odd["widget_rates_sane"].status == "warn"


async def test_missing_privacy_notice_fails(env, db_session):
    await good_setup(db_session)
    results = await run(env, MESSENGER_PRIVACY_URL=None, MESSENGER_PRIVACY_TEXT=None)
    assert results["privacy"].status == "fail"
    assert "Shop" in results["privacy"].reason


async def test_missing_secret_fails_in_production(env):
    results = await run(env, MESSENGER_SECRET_KEY=None)
    assert results["secret_key"].status == "fail"


async def test_inbox_without_domains_fails(env, db_session):
    branch = await make_branch(db_session)
    await make_inbox(db_session, name="Empty", branch=branch, domains=[])
    results = await run(env)
    assert results["inbox:Empty"].status == "fail"
    assert "No allowed domains" in results["inbox:Empty"].reason


@pytest.mark.parametrize("domain", ["localhost", "127.0.0.1", "shop.test", "demo.example.com"])
async def test_inbox_with_local_ip_or_test_domain_fails(env, db_session, domain):
    branch = await make_branch(db_session)
    await make_inbox(db_session, name="Leaky", branch=branch, domains=["shop.ru", domain])
    results = await run(env)
    assert results["inbox:Leaky"].status == "fail"
    assert domain in results["inbox:Leaky"].reason


async def test_global_inbox_without_rules_or_fallback_fails(env, db_session):
    await make_inbox(db_session, name="Orphan", domains=["orphan.ru"])
    results = await run(env)
    assert results["routing:Orphan"].status == "fail"


async def test_cli_exits_non_zero_with_json_and_speaks_russian(env, db_session):
    await make_inbox(db_session, name="Orphan", domains=["orphan.ru"])
    result = run_cli("check", "--json", env=cli_env(**env, **GOOD))
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert any(c["name"] == "routing:Orphan" and c["status"] == "fail" for c in document["checks"])
    russian = run_cli("check", "--lang", "ru", env=cli_env(**env, **GOOD))
    assert "Общий канал без правил маршрутизации" in russian.stdout
    english = run_cli("check", "--lang", "en", env=cli_env(**env, **GOOD))
    assert "A global inbox without routing rules" in english.stdout


def test_settings_items_are_derived_from_the_declaration():
    """One item per variable whose declaration names an audit, in declaration order, then
    the cross-checks."""
    # Items named after a whole feature, not after their variable.
    named = {
        "MESSENGER_DB_POOLER": "db_pooler",
        "MESSENGER_ENABLED": "messenger_enabled",
        "MESSENGER_GEOIP_ENABLED": "geoip",
        "MESSENGER_SECRET_KEY": "secret_key",
        "MESSENGER_TRUSTED_PROXIES": "trusted_proxies",
        "MESSENGER_RETENTION_DAYS": "retention",
    }
    with use_locale("en"):
        english = settings_audit(Settings.from_env({}), {})
    with use_locale("ru"):
        russian = settings_audit(Settings.from_env({}), {})

    assert [r.name for r in english] == [
        *(named.get(v.name, v.name) for v in VARIABLES if v.audit is not None),
        "widget_rates_sane",
    ]
    assert len(english) == sum(v.audit is not None for v in VARIABLES) + 1
    assert [r.status for r in english] == [r.status for r in russian]
    for en, ru in zip(english, russian, strict=True):
        assert en.reason != ru.reason, en.reason  # every reason has its Russian


async def test_no_worker_and_overdue_jobs_warn(env, db_session):
    branch = await good_setup(db_session)
    old = datetime.now(UTC) - timedelta(minutes=10)
    db_session.add(OutboxEntry(topic="mail.reply", payload={}, available_at=old))
    await db_session.commit()
    await db_session.execute(WorkerHeartbeat.__table__.update().values(beat_at=old))
    await db_session.commit()
    results = await run(env, MESSENGER_DEFAULT_BRANCH_ID=str(branch.id), MESSENGER_MAIL_FROM=None)
    assert results["worker"].status == "warn"
    assert "messenger worker" in results["worker"].reason
    assert results["outbox"].status == "warn"
    assert "1" in results["outbox"].reason
    assert results["mail"].status == "fail"
