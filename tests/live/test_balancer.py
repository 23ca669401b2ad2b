"""Three app processes behind a real nginx running the deployment's own server block
(docker/nginx.conf: round-robin, streams unbuffered with long reads): a visitor and an
operator chat through it while their requests land on different processes; one process is
killed mid-chat and the chat goes on through the other two, nothing lost or doubled.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Message
from messenger.db.models.enums import MessageKind
from tests.support.app import RELAXED_ENV
from tests.support.dashboard import hx_post, quick_user, signed_in
from tests.support.factories import make_branch, make_inbox
from tests.support.nginx import Nginx
from tests.support.servers import LiveServer
from tests.support.sse import SSEStream
from tests.support.waiting import eventually
from tests.support.widget import WidgetVisitor

pytestmark = pytest.mark.timeout(150)

SEND = '"path": "/api/widget/messages"'


async def sends_logged(apps: list[LiveServer], at_least: int) -> bool:
    """Every process logged at least that many widget sends."""
    return all(app.log().count(SEND) >= at_least for app in apps)


async def accepted(call: Callable[[], Any], within: float = 20.0) -> httpx.Response:
    """A call repeated (same body, same ids) while the balancer answers 502/503/504 for
    the killed process, as the widget's outbox and the composer do."""
    deadline = time.monotonic() + within
    while True:
        response: httpx.Response = await call()
        if response.status_code < 300:
            return response
        assert response.status_code in (502, 503, 504), response.text
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)


async def test_three_processes_behind_nginx_one_killed_mid_chat(
    live_server: Callable[..., LiveServer], db_session: AsyncSession
) -> None:
    branch = await make_branch(db_session)
    operator = await quick_user(db_session, [branch], email="op@example.com", name="Olga")
    inbox = await make_inbox(db_session, branch=branch)
    await db_session.commit()
    env = {
        **RELAXED_ENV,
        "MESSENGER_TRUSTED_PROXIES": "127.0.0.1",
        "MESSENGER_STREAM_CATCH_UP_SECONDS": "1",
    }
    apps = [live_server(**env) for _ in range(3)]
    nginx = Nginx([app.port for app in apps]).start()
    try:
        async with (
            httpx.AsyncClient(base_url=nginx.url, timeout=20) as site,
            httpx.AsyncClient(base_url=nginx.url, timeout=20) as staff,
        ):
            tab = WidgetVisitor(site, inbox.widget_token)
            await tab.bootstrap()
            sent = [await tab.send(f"visitor {i}", f"v-{i}") for i in range(6)]
            conversation_id = sent[0]["conversation_id"]
            base = f"/conversations/{conversation_id}"
            # Round-robin: the visitor's sends were served by every process.
            # (access lines reach the log within the handler's flush interval: logs.py)
            await eventually(lambda: sends_logged(apps, 1))

            await signed_in(staff, operator.email)

            async def reply(body: str) -> httpx.Response:
                return await accepted(
                    lambda: hx_post(
                        staff, f"{base}/messages", {"body": body, "client_msg_id": f"r-{body}"}
                    )
                )

            seen: list[int] = []

            async def stream_until(body: str) -> None:
                """Read the widget's stream through nginx until ``body`` arrives,
                reconnecting with Last-Event-ID when the process behind it dies."""
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    headers = tab.headers()
                    if seen:
                        headers["Last-Event-ID"] = str(seen[-1])
                    else:
                        headers["Last-Event-ID"] = str(sent[-1]["id"])
                    async with SSEStream(site, headers=headers) as stream:
                        await stream.wait_for(
                            lambda s: (
                                s.ended.is_set() or any(m["body"] == body for m in s.messages())
                            ),
                            within=15,
                        )
                        seen.extend(i for i in stream.message_ids() if i not in seen)
                        if any(m["body"] == body for m in stream.messages()):
                            return
                raise AssertionError(f"{body!r} never reached the widget")

            # Streams pass through unbuffered: a reply reaches the open stream at once.
            await reply("one")
            await stream_until("one")

            victim = apps[0]
            assert victim.process is not None
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait(timeout=10)

            more = [
                (await accepted(lambda i=i: tab.send_raw(f"after {i}", f"a-{i}"))).json()
                for i in range(6)
            ]
            # A re-sent message (its answer lost with the process) is the stored one.
            again = await tab.send_raw("after 0", "a-0")
            assert again.status_code == 200
            assert again.json()["id"] == more[0]["id"]
            await reply("two")
            await stream_until("two")
            assert len(seen) == len(set(seen))

            page = await accepted(lambda: staff.get(base))
            for message in [*sent, *more]:
                assert page.text.count(f'id="msg-{message["id"]}"') == 1
        # The survivors shared the work after the kill.
        await eventually(lambda: sends_logged(apps[1:], 2))
        assert "rid=" in nginx.access_log()
        assert "?" not in nginx.access_log().replace('"-"', "")
    finally:
        nginx.stop()

    bodies = (
        await db_session.scalars(
            select(Message.body).where(Message.kind == MessageKind.MESSAGE).order_by(Message.id)
        )
    ).all()
    assert bodies == [
        *(f"visitor {i}" for i in range(6)),
        "one",
        *(f"after {i}" for i in range(6)),
        "two",
    ]
