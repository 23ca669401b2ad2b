"""Migrations on brand-new databases: up, down, up again, and models agreeing with migrations."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from alembic.script import ScriptDirectory

from messenger.db import MIGRATIONS_DIR
from tests.support.env import (
    RUN_ID,
    TABLES,
    asyncpg_url,
    cli_env,
    create_database,
    drop_database,
    run_cli,
)

HEAD = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def query(dsn: str, sql: str) -> list[Any]:
    """The first column of every row of ``sql`` (run in its own event loop: tests are sync)."""

    async def run() -> list[Any]:
        conn = await asyncpg.connect(dsn)
        try:
            return [row[0] for row in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(run())


def public_tables(dsn: str) -> set[str]:
    return set(query(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))


def leftovers(dsn: str) -> list[str]:
    """Sequences, views and types of the app left in the schema (should be none after base)."""
    return query(
        dsn,
        """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('S', 'v', 'm')
        UNION ALL
        SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')
        """,
    )


@pytest.fixture
def fresh_db() -> Iterator[tuple[str, dict[str, str]]]:
    """A brand-new empty database (plain DSN, CLI environment), dropped after the test."""
    name = f"messenger_mig_{RUN_ID}_{secrets.token_hex(3)}"
    dsn = create_database(name)
    try:
        yield dsn, cli_env(DATABASE_URL=asyncpg_url(dsn))
    finally:
        drop_database(name)


def test_there_is_one_head() -> None:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    assert len(script.get_heads()) == 1
    assert HEAD is not None


def test_upgrade_downgrade_upgrade_and_check_on_an_empty_database(
    fresh_db: tuple[str, dict[str, str]],
) -> None:
    dsn, env = fresh_db
    assert public_tables(dsn) == set()

    run_cli("db", "upgrade", "--no-prompt", env=env, check=True)
    assert public_tables(dsn) == {*TABLES, "alembic_version"}
    assert query(dsn, "SELECT version_num FROM alembic_version") == [HEAD]

    run_cli("db", "downgrade", "base", "--no-prompt", env=env, check=True)
    assert public_tables(dsn) - {"alembic_version"} == set()
    assert query(dsn, "SELECT version_num FROM alembic_version") == []
    assert leftovers(dsn) == []

    run_cli("db", "upgrade", "--no-prompt", env=env, check=True)
    assert public_tables(dsn) == {*TABLES, "alembic_version"}
    assert query(dsn, "SELECT version_num FROM alembic_version") == [HEAD]

    # Models and migrations agree: autogenerate finds nothing to add on the migrated schema.
    check = run_cli("db", "check", env=env)
    assert check.returncode == 0, check.stderr
    assert "No new upgrade operations detected" in check.stdout

    # The re-created schema is usable by the app, not just present.
    created = run_cli("branch", "create", "--name", "After re-upgrade", env=env)
    assert created.returncode == 0, created.stderr
    assert query(dsn, "SELECT name FROM branches") == ["After re-upgrade"]


def test_check_fails_when_the_schema_differs_from_the_models(
    fresh_db: tuple[str, dict[str, str]],
) -> None:
    """Proof that ``db check`` can fail: drift the migrated schema by hand."""
    dsn, env = fresh_db
    run_cli("db", "upgrade", "--no-prompt", env=env, check=True)
    query(dsn, "ALTER TABLE branches DROP COLUMN is_active")

    result = run_cli("db", "check", env=env)

    assert result.returncode != 0
    assert "New upgrade operations detected" in result.stderr
    assert "is_active" in result.stderr


def test_check_fails_on_a_database_that_was_never_migrated(
    fresh_db: tuple[str, dict[str, str]],
) -> None:
    _, env = fresh_db

    result = run_cli("db", "check", env=env)

    assert result.returncode != 0
    assert "not up to date" in result.stderr
