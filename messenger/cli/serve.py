"""``messenger serve``: the start-up checks, then uvicorn."""

from __future__ import annotations

import asyncio
import logging
import socket
from types import FrameType
from typing import TYPE_CHECKING, Any

import click
import uvicorn

from messenger.cli.common import CONNECT_ERRORS, CliError, configuration_error, load_settings
from messenger.config import Settings, SettingsError
from messenger.db import alchemy_config
from messenger.logs import logging_config
from messenger.memory import freeze_what_is_alive
from messenger.realtime import draining
from messenger.startup import check_default_branch

if TYPE_CHECKING:
    from litestar import Litestar

log = logging.getLogger("messenger")


async def check_startup(settings: Settings) -> None:
    """The app's start-up checks, run here so that a bad value stops the command cleanly."""
    config = alchemy_config(settings)
    try:
        await check_default_branch(settings, config)
    finally:
        await config.get_engine().dispose()


#: What uvicorn imports (``factory``): the app, which freezes what is alive once started.
SERVED_APP = "messenger.cli.serve:served_app"


async def _freeze_started(_: Litestar) -> None:
    count = freeze_what_is_alive()
    log.info("kept %d objects of the started process out of the garbage collector's way", count)


def served_app() -> Litestar:
    """The app as served: :func:`~messenger.app.create_served_app`, plus a start-up hook (after its own)
    that takes the started process's objects out of every later full garbage collection
    (:func:`messenger.memory.freeze_what_is_alive`)."""
    # The app only where it is served, not for every command.
    from messenger.app import create_served_app

    app = create_served_app()  # templates compiled at start-up, then (after) the freeze
    app.on_startup.append(_freeze_started)
    return app


class DrainingServer(uvicorn.Server):
    """uvicorn's server that, on SIGTERM/SIGINT, first tells every open stream to reconnect
    (``messenger.realtime.draining``), then shuts down as usual."""

    _loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler: the streams are woken from the loop, not from here.
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(draining.begin)
        super().handle_exit(sig, frame)


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
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "proxy_headers": False,
        "server_header": False,
        "log_config": logging_config(),
        "access_log": False,
        "timeout_graceful_shutdown": 5,
    }
    if workers > 1 or reload:
        # uvicorn's supervisor runs the workers: open streams are cut at the timeout.
        uvicorn.run(SERVED_APP, workers=workers, reload=reload, **options)
        return
    # One process (a container, a pod): open streams are told to reconnect at the signal.
    DrainingServer(uvicorn.Config(SERVED_APP, **options)).run()
