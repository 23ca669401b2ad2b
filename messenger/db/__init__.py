"""Database configuration: PostgreSQL (asyncpg) in production and tests, SQLite when embedded."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

from advanced_alchemy.extensions.litestar import (
    AlembicAsyncConfig,
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
)

from messenger.config import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


def _statement_name() -> str:
    return f"__messenger_{uuid4().hex}__"


def pooled_connect_args() -> dict[str, Any]:
    """asyncpg behind a transaction-pooling proxy (PgBouncer ``pool_mode = transaction``,
    Debian's 1.18 has no prepared-statement support): consecutive transactions of one
    client connection may run on different server connections, so a statement prepared
    in one transaction may be missing (or another client's) in the next. SQLAlchemy's
    statement cache and asyncpg's are off, and each statement gets a unique name (two
    clients sharing a server connection never collide); SQLAlchemy runs every statement
    inside a transaction, so its prepare and execute reach the same server connection."""
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": _statement_name,
    }


def alchemy_config(settings: Settings) -> SQLAlchemyAsyncConfig:
    """One config for the app, the CLI and the migrations."""
    import messenger.db.models
    import messenger.db.outbox  # noqa: F401 - webhook events written with every commit

    url = settings.effective_database_url
    engine_config = None
    if settings.embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    from advanced_alchemy.extensions.litestar import EngineConfig
    from advanced_alchemy.utils.serialization import decode_json, encode_json

    # The Litestar config's EngineConfig (what its type asks for), with advanced-alchemy's own
    # JSON functions, which the base class used here before defaults to: JSON columns are
    # written and read exactly as they were.
    if url.startswith("postgresql"):
        engine_config = EngineConfig(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_pre_ping=True,
            json_serializer=encode_json,
            json_deserializer=decode_json,
            connect_args=pooled_connect_args() if settings.db_pooler == "transaction" else {},
        )
    else:
        engine_config = EngineConfig(json_serializer=encode_json, json_deserializer=decode_json)
    return SQLAlchemyAsyncConfig(
        connection_string=url,
        engine_config=engine_config,
        session_config=AsyncSessionConfig(expire_on_commit=False),
        # The request is the unit of work: it commits when it answers 2xx or 3xx (admin
        # forms answer 303), rolls back otherwise. Services never commit. The app replaces
        # this handler with messenger.realtime.transaction.commit_then_publish, which does
        # the same and then publishes the committed domain events.
        before_send_handler="autocommit_include_redirects",
        create_all=False,
        alembic_config=AlembicAsyncConfig(
            script_location=str(MIGRATIONS_DIR),
            version_table_name="alembic_version",
            render_as_batch=True,
        ),
    )
