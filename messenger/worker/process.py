"""A worker process: its parts built from the settings, signals, the health endpoint."""

from __future__ import annotations

import asyncio
import logging
import signal

from messenger.attachments.links import AttachmentLinks
from messenger.backends import Backends
from messenger.config import Settings
from messenger.db import alchemy_config
from messenger.realtime.publisher import Publisher
from messenger.worker.health import ALL_INTERFACES, serve_health
from messenger.worker.runner import Worker

log = logging.getLogger("messenger.worker")


async def run_worker(
    settings: Settings, *, once: bool = False, health_host: str = ALL_INTERFACES
) -> None:
    # httpx logs every request's URL at info level: a webhook URL may carry a token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    config = alchemy_config(settings)
    backends = Backends.from_settings(settings)
    publisher = Publisher(
        backends.channels,
        settings.redis_prefix,
        AttachmentLinks(settings.require_secret_key()),
        backends.state,
    )
    dialect = "postgresql" if settings.effective_database_url.startswith("postgresql") else "sqlite"
    worker = Worker(settings, config.get_session, publisher, dialect=dialect, use_saq=not once)
    server = None
    try:
        if once:
            import httpx

            async with httpx.AsyncClient(follow_redirects=False, trust_env=False) as client:
                while await worker.tick(client):
                    pass
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stop)
        if settings.worker_health_port:
            server = await serve_health(worker, health_host, settings.worker_health_port)
        log.info("worker %s started", worker.name)
        await worker.run()
    finally:
        if server is not None:
            server.close()
        await config.get_engine().dispose()
        await backends.close()
