"""Where the test services are and how to reach them: the PostgreSQL admin connection,
Redis, throwaway databases, the ``messenger`` CLI in a subprocess.

Plain functions and constants (no fixtures): ``tests/conftest.py`` builds its fixtures on
them, and tests that need a database of their own (migrations) call them directly.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent.parent
ADMIN_DSN = os.environ.get(
    "MESSENGER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("MESSENGER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = secrets.token_hex(4)
TEST_SECRET = "test-secret-" + "x" * 40

TABLES = (
    "audit_entries",
    "worker_heartbeats",
    "webhook_deliveries",
    "webhook_endpoints",
    "outbox",
    "api_token_branches",
    "api_tokens",
    "csat_ratings",
    "contacts",
    "conversation_labels",
    "labels",
    "attachments",
    "saved_replies",
    "messages",
    "conversations",
    "visitors",
    "routing_rules",
    "inboxes",
    "user_branches",
    "users",
    "branches",
)


def dsn_for(database: str) -> str:
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


def asyncpg_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


async def admin_sql(sql: str) -> None:
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
    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    return dsn_for(name)


def drop_database(name: str) -> None:
    asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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


async def truncate_all(database_url: str) -> None:
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        # Fail loudly instead of hanging if a connection still holds a lock.
        await conn.execute("SET lock_timeout = '30s'")
        await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
