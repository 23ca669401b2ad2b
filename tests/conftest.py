"""Shared fixtures: a throwaway PostgreSQL database and a private Redis key space per run.

Tests run against real PostgreSQL and Redis. When either does not answer, the run stops
with an error that says so (``make test`` starts or installs them first); nothing is
skipped.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db import alchemy_config

ROOT = Path(__file__).resolve().parent.parent
ADMIN_DSN = os.environ.get(
    "MESSENGER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("MESSENGER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = secrets.token_hex(4)
TEST_SECRET = "test-secret-" + "x" * 40

TABLES = (
    "attachments",
    "messages",
    "conversations",
    "visitors",
    "routing_rules",
    "inboxes",
    "user_branches",
    "users",
    "branches",
)


def _dsn_for(database: str) -> str:
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


def asyncpg_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _admin(sql: str) -> None:
    try:
        conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        msg = (
            f"PostgreSQL does not answer at {ADMIN_DSN} ({exc}). "
            "Run the suite with 'make test', which starts it, or set MESSENGER_TEST_DATABASE_URL."
        )
        raise RuntimeError(msg) from exc
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(name: str) -> str:
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    return _dsn_for(name)


def drop_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def cli_env(**overrides: str) -> dict[str, str]:
    """An environment for running ``messenger`` in a subprocess (no stray MESSENGER_* leak)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESSENGER_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(overrides)
    return env


def run_cli(
    *args: str, env: dict[str, str], stdin: str | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "messenger", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    if check and result.returncode != 0:
        msg = f"messenger {' '.join(args)} failed ({result.returncode}):\n{result.stderr}"
        raise AssertionError(msg)
    return result


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


async def _truncate(database_url: str) -> None:
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        # Fail loudly instead of hanging if a connection still holds a lock.
        await conn.execute("SET lock_timeout = '30s'")
        await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def clean_db(settings: Settings) -> AsyncIterator[None]:
    """Empty every table after the test (also what live servers and the CLI wrote).

    ``db_session`` depends on it, so the truncation always runs after the test's own
    session is closed, whatever order a test lists its fixtures in.
    """
    yield
    await _truncate(settings.effective_database_url)


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
    await _truncate(settings.effective_database_url)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A real ``messenger serve`` process (uvicorn) on a free port."""

    def __init__(self, env: dict[str, str], host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"messenger-live-{self.port}.log"
        self._env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> LiveServer:
        import time
        import urllib.request

        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "messenger",
                "serve",
                "--host",
                self.host,
                "--port",
                str(self.port),
            ],
            env=cli_env(**self._env),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = f"server exited early:\n{self.log_path.read_text()}"
                raise RuntimeError(msg)
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        msg = f"server did not answer within {timeout}s:\n{self.log_path.read_text()}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


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
