from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import SkipValidation
from litestar.plugins.prometheus import PrometheusController
from litestar.response import Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.backends import Backends
from messenger.realtime.draining import draining

log = logging.getLogger("messenger.system")
CHECK_TIMEOUT_SECONDS = 3.0


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    checks: dict[str, str]


class SystemController(Controller):
    tags = ["system"]

    @get("/health", summary="Liveness: the process answers", cache=False)
    async def health(self) -> Health:
        return Health(status="ok")

    @get(
        "/ready",
        summary="Readiness: the database, Redis and the live fan-out answer",
        description=(
            "200 when all answer; 503 naming each part that does not: `database`, `redis`, "
            "`live` (the pub/sub reader, which reconnects by itself), `process` (`draining`: "
            "it is shutting down)."
        ),
        cache=False,
    )
    async def ready(
        self,
        db_session: NamedDependency[AsyncSession],
        backends: NamedDependency[SkipValidation[Backends]],
    ) -> Response[Readiness]:
        checks: dict[str, str] = {}

        async def database() -> None:
            await db_session.execute(text("SELECT 1"))

        async def probe(name: str, check: Callable[[], Awaitable[object]]) -> None:
            try:
                await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
            except Exception as exc:
                log.warning("readiness check failed: %s (%s)", name, type(exc).__name__)
                checks[name] = f"unavailable ({type(exc).__name__})"
            else:
                checks[name] = "ok"

        # Both at once: the answer waits for the slower round trip, not for their sum.
        probes = [probe("database", database)]
        if backends.redis is None:
            checks["redis"] = "memory"
        else:
            probes.append(probe("redis", backends.ping))
        await asyncio.gather(*probes)
        checks = {name: checks[name] for name in ("database", "redis")}
        if backends.redis is None:
            checks["live"] = "memory"
        else:
            # The pub/sub reader reconnects by itself; until it has, live events wait.
            checks["live"] = "ok" if backends.live_fan_out_connected else "reconnecting"
        if draining():
            # Shutting down: the balancer sends new requests elsewhere.
            checks["process"] = "draining"
        ok = all(value in {"ok", "memory"} for value in checks.values())
        return Response(
            Readiness(status="ok" if ok else "unavailable", checks=checks),
            status_code=200 if ok else 503,
        )


class MetricsController(PrometheusController):
    """Prometheus metrics: requests and latency by route, open streams, messages, refusals."""

    path = "/metrics"
    include_in_schema = False
