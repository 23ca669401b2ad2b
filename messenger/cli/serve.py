"""``messenger serve``: the start-up checks, then uvicorn."""

from __future__ import annotations

import asyncio

import click

from messenger.cli.common import CONNECT_ERRORS, CliError, configuration_error, load_settings
from messenger.config import Settings, SettingsError
from messenger.db import alchemy_config
from messenger.logs import logging_config
from messenger.startup import check_default_branch


async def check_startup(settings: Settings) -> None:
    """The app's start-up checks, run here so that a bad value stops the command cleanly."""
    config = alchemy_config(settings)
    try:
        await check_default_branch(settings, config)
    finally:
        await config.get_engine().dispose()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str, port: int, workers: int, reload: bool) -> None:
    """Serve the app with uvicorn.

    uvicorn's own proxy-header handling is off: the app decides from
    MESSENGER_TRUSTED_PROXIES whether to believe X-Forwarded-For.
    """
    import uvicorn

    settings = load_settings()
    try:
        asyncio.run(check_startup(settings))
    except SettingsError as exc:
        configuration_error(exc)
    except CONNECT_ERRORS as exc:
        raise CliError(
            f"cannot reach the database to check MESSENGER_DEFAULT_BRANCH_ID "
            f"({type(exc).__name__}: {exc})"
        ) from None
    if settings.embedded and workers > 1:
        raise CliError("--workers > 1 needs DATABASE_URL and REDIS_URL (shared state).")
    uvicorn.run(
        "messenger.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=False,
        server_header=False,
        log_config=logging_config(),
        access_log=False,
        timeout_graceful_shutdown=5,
    )
