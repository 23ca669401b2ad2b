"""``messenger db …``: migrations (Alembic, through advanced-alchemy)."""

from __future__ import annotations

import click
from advanced_alchemy.cli import add_migration_commands

from messenger.cli.common import load_settings
from messenger.db import alchemy_config


@click.group("db")
@click.pass_context
def db_group(ctx: click.Context) -> None:
    """Database migrations (Alembic, through advanced-alchemy)."""
    ctx.ensure_object(dict)
    ctx.obj["configs"] = [alchemy_config(load_settings())]


add_migration_commands(db_group)
