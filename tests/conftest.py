"""Shared fixtures: a throwaway PostgreSQL database and a private Redis key space per run.

Tests run against real PostgreSQL and Redis. When either does not answer, the run stops
with an error that says so (``make test`` starts or installs them first); nothing is
skipped. Helpers (clients, SSE reader, operator desk, factories) live in ``tests/support``.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db import alchemy_config
from tests.support.app import ClientFactory, relaxed_clients
from tests.support.desk import OperatorDesk
from tests.support.env import (
    REDIS_URL,
    RUN_ID,
    TEST_SECRET,
    asyncpg_url,
    cli_env,
    create_database,
    drop_database,
    run_cli,
    truncate_all,
)
from tests.support.servers import LiveServer


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A throwaway PostgreSQL database, migrated to head with the real CLI, dropped at the end."""
    name = f"messenger_test_{RUN_ID}"
    dsn = create_database(name)
    url = asyncpg_url(dsn)
    try:
        run_cli("db", "upgrade", "--no-prompt", env=cli_env(DATABASE_URL=url), check=True)
        yield url
    finally:
        drop_database(name)


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis as sync_redis

    client = sync_redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except sync_redis.RedisError as exc:
        msg = f"Redis does not answer at {REDIS_URL} ({exc}). Run the suite with 'make test'."
        raise RuntimeError(msg) from exc
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    """Each test gets its own key space, so parallel runs on one Redis never collide."""
    return f"mtest-{RUN_ID}-{secrets.token_hex(3)}"


@pytest.fixture
def env(database_url: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    """The environment of a production-like process for this test."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MESSENGER_REDIS_PREFIX": redis_prefix,
        "MESSENGER_SECRET_KEY": TEST_SECRET,
    }


@pytest.fixture
def widget_client(env: dict[str, str], tmp_path: Path) -> ClientFactory:
    """The real app in-process, on this test's database and Redis key space."""
    return relaxed_clients(env, tmp_path)


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


@pytest.fixture
async def redis(redis_url: str, redis_prefix: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{redis_prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def clean_db(settings: Settings) -> AsyncIterator[None]:
    """Empty every table after the test (also what live servers and the CLI wrote).

    ``db_session`` depends on it, so the truncation always runs after the test's own
    session is closed, whatever order a test lists its fixtures in.
    """
    yield
    await truncate_all(settings.effective_database_url)


@pytest.fixture
async def db_session(settings: Settings, clean_db: None) -> AsyncIterator[AsyncSession]:
    """A session on the test database; every table is emptied after the test."""
    config = alchemy_config(settings)
    try:
        async with config.get_session() as session:
            yield session
    finally:
        await config.get_engine().dispose()


@pytest.fixture
async def db_reset(settings: Settings) -> None:
    await truncate_all(settings.effective_database_url)


@pytest.fixture
def live_server(env: dict[str, str], clean_db: None) -> Iterator[Callable[..., LiveServer]]:
    """Start one or more live app processes sharing this test's database and Redis space:
    ``server = live_server(MESSENGER_WIDGET_SEND_RATE_PER_IP="3/minute")``."""
    servers: list[LiveServer] = []

    def start(**overrides: str) -> LiveServer:
        server = LiveServer({**env, **overrides}).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
async def desk(settings: Settings) -> AsyncIterator[OperatorDesk]:
    """The staff side from the test process (``tests.support.desk``), one more app process."""
    async with OperatorDesk(settings) as operator_desk:
        yield operator_desk


# --- the layout: each folder uses only what its name promises ---------------------------------

#: Fixtures that reach PostgreSQL, Redis or a server process.
SERVICE_FIXTURES = frozenset(
    {
        "database_url",
        "redis_url",
        "redis",
        "db_session",
        "clean_db",
        "db_reset",
        "env",
        "settings",
        "desk",
        "live_server",
    }
)
_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """unit/ asks for no service and integration/ for no server process (see tests/README)."""
    wrong = []
    for item in items:
        layer = item.path.resolve().relative_to(_TESTS).parts[0]
        used = set(getattr(item, "fixturenames", ()))
        if layer == "unit" and used & SERVICE_FIXTURES:
            wrong.append(f"{item.nodeid} (unit/) uses {sorted(used & SERVICE_FIXTURES)}")
        elif layer == "integration" and "live_server" in used:
            wrong.append(f"{item.nodeid} (integration/) starts a live server")
    if wrong:
        raise pytest.UsageError("tests in the wrong folder:\n" + "\n".join(wrong))
