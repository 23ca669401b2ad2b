"""Shutting down without stranding open streams.

When the process is told to stop (SIGTERM from Kubernetes, systemd or docker), uvicorn stops
accepting connections and waits for open requests — and a live stream never finishes by
itself. So every open stream is woken at once, told to reconnect soon (an SSE ``retry``
with a ``reconnect`` comment) and ended: clients come back through the balancer to another
process and resume from their Last-Event-ID, instead of being cut off at the shutdown
timeout. ``/ready`` answers 503 ``draining`` meanwhile.

Each open stream is registered by its subscriber (what it waits on), not by a callback: no
closure per stream, only a set entry (thousands of streams stay open for hours).
"""

from __future__ import annotations

from typing import Protocol


class Wakeable(Protocol):
    def put_nowait(self, item: bytes | None) -> object: ...


#: What a draining stream finds in its subscriber. Compared by identity; a published
#: payload is never this object (every envelope is a JSON object).
DRAIN = b"\x00drain"

_streams: set[Wakeable] = set()
_draining = False


def draining() -> bool:
    return _draining


def begin() -> None:
    """Start draining (call on the event loop, e.g. with ``loop.call_soon_threadsafe``)."""
    global _draining
    _draining = True
    for stream in list(_streams):
        stream.put_nowait(DRAIN)


def watch(stream: Wakeable) -> None:
    """Put :data:`DRAIN` in ``stream`` when draining starts (at once if it has)."""
    _streams.add(stream)
    if _draining:
        stream.put_nowait(DRAIN)


def unwatch(stream: Wakeable) -> None:
    _streams.discard(stream)
