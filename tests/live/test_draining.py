"""SIGTERM (Kubernetes, docker, systemd stopping a process): open streams are told to
reconnect and end at once — not cut at the shutdown timeout — and the process exits
cleanly; the client resumes on another process from its Last-Event-ID."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.app import RELAXED_ENV
from tests.support.factories import make_inbox
from tests.support.servers import LiveServer
from tests.support.sse import SSEStream
from tests.support.widget import WidgetVisitor

pytestmark = pytest.mark.timeout(60)


async def test_sigterm_tells_open_streams_to_reconnect_and_the_process_exits(
    live_server: Callable[..., LiveServer], db_session: AsyncSession
) -> None:
    inbox = await make_inbox(db_session)
    await db_session.commit()
    stopping = live_server(**{**RELAXED_ENV, "MESSENGER_STREAM_HEARTBEAT_SECONDS": "30"})
    other = live_server(**RELAXED_ENV)
    async with (
        httpx.AsyncClient(base_url=stopping.url, timeout=20) as first,
        httpx.AsyncClient(base_url=other.url, timeout=20) as second,
    ):
        tab = WidgetVisitor(first, inbox.widget_token)
        await tab.bootstrap()
        hello = await tab.send("hello", "m-1")
        async with SSEStream(first, headers=tab.headers()) as stream:
            await stream.connected()
            assert stopping.process is not None
            signalled = time.monotonic()
            stopping.process.send_signal(signal.SIGTERM)
            await stream.wait_for(lambda s: s.ended.is_set() or None, within=4)
            ended_after = time.monotonic() - signalled
        assert "reconnect" in stream.comments()
        # Well before uvicorn's 5 s shutdown timeout would have cut it.
        assert ended_after < 3, ended_after
        # uvicorn re-raises the signal after a graceful shutdown: the process ends by it.
        assert stopping.process.wait(timeout=10) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in stopping.log()

        # The widget comes back through the other process and misses nothing.
        tab.client = second
        answer = await tab.send_raw("hello", "m-1")
        assert answer.status_code == 200
        assert answer.json()["id"] == hello["id"]
        async with SSEStream(second, headers=tab.headers()) as again:
            await again.connected()
            assert "Traceback" not in stopping.log()
