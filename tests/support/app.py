"""The one way a test gets the app in-process: ``create_app(settings)`` behind Litestar's
``AsyncTestClient`` (lifespan run, so start-up checks and shutdown happen as in production)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
from litestar.testing import AsyncTestClient

from messenger.app import create_app
from messenger.config import Settings

#: Widget limits far above what a test does, so only the behaviour under test decides; a
#: one-second heartbeat so that stream tests see keep-alives. A test that needs a limit
#: sets its own.
RELAXED_ENV = {
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP": "10000/minute",
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN": "10000/minute",
    "MESSENGER_WIDGET_SEND_RATE_PER_SESSION": "10000/minute",
    "MESSENGER_WIDGET_SEND_RATE_PER_IP": "10000/minute",
    "MESSENGER_WIDGET_POLL_RATE_PER_SESSION": "10000/minute",
    "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS": "0.01",
    "MESSENGER_WIDGET_TYPING_RATE_PER_SESSION": "10000/minute",
    "MESSENGER_WIDGET_READ_RATE_PER_SESSION": "10000/minute",
    "MESSENGER_WIDGET_TICKET_RATE_PER_SESSION": "10000/minute",
    "MESSENGER_WIDGET_STREAMS_PER_SESSION": "1000",
    "MESSENGER_WIDGET_STREAMS_PER_IP": "1000",
    "MESSENGER_WIDGET_UPLOAD_RATE_PER_SESSION": "10000/minute",
    "MESSENGER_WIDGET_UPLOAD_RATE_PER_IP": "10000/minute",
    "MESSENGER_WIDGET_DOWNLOAD_RATE_PER_IP": "10000/minute",
    "MESSENGER_WIDGET_CHALLENGE_THRESHOLD": "10000",
    "MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER": "1000",
    "MESSENGER_STREAM_HEARTBEAT_SECONDS": "1",
}


@contextlib.asynccontextmanager
async def app_client(
    config: Settings | Mapping[str, str], *, relaxed: bool = False, **overrides: str
) -> AsyncIterator[AsyncTestClient]:
    """An in-process app and a client of it.

    ``config`` is a :class:`Settings` or an environment (the ``env`` fixture: this test's
    PostgreSQL and Redis space); ``relaxed`` puts :data:`RELAXED_ENV` under it and
    ``overrides`` on top.
    """
    if isinstance(config, Settings):
        assert not relaxed, "give an environment to change settings"
        assert not overrides, "give an environment to change settings"
        settings = config
    else:
        settings = Settings.from_env({**(RELAXED_ENV if relaxed else {}), **config, **overrides})
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


#: ``factory(**overrides)``: an in-process client of the real app (``widget_client``).
ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def relaxed_clients(env: Mapping[str, str], data_dir: Path) -> ClientFactory:
    """Clients of the real app on this test's database and Redis key space, with the
    relaxed limits; each call is another app (another process, as far as the app knows)."""

    @contextlib.asynccontextmanager
    async def factory(**overrides: str) -> AsyncIterator[httpx.AsyncClient]:
        settings = Settings.from_env(
            {**env, **RELAXED_ENV, "MESSENGER_DATA_DIR": str(data_dir), **overrides}
        )
        async with app_client(settings) as client:
            yield client

    return factory
