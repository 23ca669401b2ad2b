"""Shutting down without stranding open streams.

When the process is told to stop (SIGTERM from Kubernetes, systemd or docker), uvicorn stops
accepting connections and waits for open requests — and a live stream never finishes by
itself. So every open stream is woken at once, told to reconnect soon (an SSE ``retry``
with a ``reconnect`` comment) and ended: clients come back through the balancer to another
process and resume from their Last-Event-ID, instead of being cut off at the shutdown
timeout. ``/ready`` answers 503 ``draining`` meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable

_wakers: set[Callable[[], object]] = set()
_draining = False


def draining() -> bool:
    return _draining


def begin() -> None:
    """Start draining (call on the event loop, e.g. with ``loop.call_soon_threadsafe``)."""
    global _draining
    _draining = True
    for wake in list(_wakers):
        wake()


def on_drain(wake: Callable[[], object]) -> Callable[[], None]:
    """Call ``wake`` when draining starts (at once if it has); returns the unregister call."""
    _wakers.add(wake)
    if _draining:
        wake()
    return lambda: _wakers.discard(wake)
