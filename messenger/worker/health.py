"""The worker's own ``GET /ready`` and ``GET /health`` on ``MESSENGER_WORKER_HEALTH_PORT``.

A few lines of asyncio instead of a web framework: the worker answers two fixed paths for
the orchestrator's probes and nothing else. ``/ready`` is 200 while the loop has completed
a round recently (it talks to the database every round), 503 otherwise.
"""

from __future__ import annotations

import asyncio
import json

from messenger.worker.runner import Worker

MAX_REQUEST_BYTES = 8192
#: Probes come from the orchestrator, outside the container: listen on every interface.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104


async def serve_health(worker: Worker, host: str, port: int) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=5)
            parts = line.decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 else ""
            state = worker.state
            ready = state.ready(worker.settings.worker_poll_seconds)
            body: dict[str, object]
            if path == "/health":
                status, body = 200, {"status": "ok"}
            elif path == "/ready":
                status = 200 if ready else 503
                body = {
                    "status": "ready" if ready else "not_ready",
                    "worker": worker.name,
                    "last_error": state.last_error,
                    "jobs_done": state.jobs_done,
                    "deliveries_done": state.deliveries_done,
                }
            else:
                status, body = 404, {"error": "not_found"}
            payload = json.dumps(body).encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (TimeoutError, OSError, UnicodeError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(answer, host, port, limit=MAX_REQUEST_BYTES)
