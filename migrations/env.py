"""Alembic environment: runs on the same async engine settings as the app.

Used through ``messenger db …`` (advanced-alchemy's migration commands), which passes the
configured engine; the URL comes from ``DATABASE_URL`` like everything else.
"""

import asyncio
from typing import TYPE_CHECKING, cast

from advanced_alchemy.base import metadata_registry
from alembic import context
from alembic.autogenerate import rewriter
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import AsyncEngine, async_engine_from_config

import messenger.db.models  # noqa: F401 - registers every table on the metadata

if TYPE_CHECKING:
    from advanced_alchemy.alembic.commands import AlembicCommandConfig
    from sqlalchemy.engine import Connection

config: "AlembicCommandConfig" = context.config  # type: ignore[assignment]
writer = rewriter.Rewriter()

#: PostgreSQL-only search and counter objects of migration 0004 that the models do not declare (the ORM
#: never reads or writes them): autogenerate must not offer to drop them.
SEARCH_ONLY = frozenset(
    {
        "unread_count",
        "ix_conversations_unread",
        "search_ru",
        "search_en",
        "ix_messages_search_ru",
        "ix_messages_search_en",
        "ix_visitors_name_trgm",
        "ix_visitors_email_trgm",
        "ix_visitors_phone_trgm",
        "ix_visitors_phone_digits_trgm",
    }
)


def _include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (reflected and compare_to is None and name in SEARCH_ONLY)


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=metadata_registry.get(config.bind_key),
        compare_type=config.compare_type,
        version_table=config.version_table_name,
        version_table_pk=config.version_table_pk,
        user_module_prefix=config.user_module_prefix,
        render_as_batch=config.render_as_batch,
        process_revision_directives=writer,
        include_object=_include_object,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=config.db_url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: "Connection") -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    configuration = config.get_section(config.config_ini_section) or {}
    configuration["sqlalchemy.url"] = config.db_url
    engine = cast(
        "AsyncEngine",
        config.engine
        or async_engine_from_config(configuration, prefix="sqlalchemy.", poolclass=pool.NullPool),
    )
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
