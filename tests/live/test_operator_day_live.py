"""The operator's day reaches open dashboards live, across two processes: a label, a snooze,
its wake-up by the in-app ticker, and a transfer (the new branch's list hears of it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Conversation, ConversationStatus, Label
from tests.support.app import RELAXED_ENV
from tests.support.dashboard import Visitor, hx_post, quick_user, signed_in
from tests.support.factories import make_branch, make_inbox
from tests.support.servers import LiveServer
from tests.support.sse import SSEStream, staff_stream
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(120)

ORIGIN = "https://shop.example"
StartServer = Callable[..., LiveServer]


def statuses(stream: SSEStream) -> int:
    return len(stream.events("status"))


async def test_day_changes_reach_open_dashboards_in_another_process(
    live_server: StartServer, db_session: AsyncSession
) -> None:
    alpha, beta = await make_branch(db_session, "Alpha"), await make_branch(db_session, "Beta")
    anna = await quick_user(db_session, [alpha], email="anna@example.com", name="Anna")
    boris = await quick_user(db_session, [beta], email="boris@example.com", name="Boris")
    inbox = await make_inbox(db_session, branch=alpha, domains=["shop.example"])
    label = Label(name_ru="ВИП", name_en="VIP", color="#ff0000")
    db_session.add(label)
    await db_session.commit()
    env = {**RELAXED_ENV, "MESSENGER_DAY_TICKER_SECONDS": "0.5"}
    a, b = live_server(**env), live_server(**env)

    async with (
        httpx.AsyncClient(base_url=a.url, timeout=10) as acting,
        httpx.AsyncClient(base_url=b.url, timeout=30) as watching,
        httpx.AsyncClient(base_url=b.url, timeout=30) as other_branch,
    ):
        visitor = Visitor(acting, inbox.widget_token, ORIGIN)
        conversation_id = str((await visitor.send("hello"))["conversation_id"])
        base = f"/conversations/{conversation_id}"
        for client, user in ((acting, anna), (watching, anna), (other_branch, boris)):
            await signed_in(client, user.email)
        await acting.get(base)

        async with (
            staff_stream(watching, {"conversation": conversation_id}) as mine,
            staff_stream(other_branch) as theirs,
        ):
            await mine.wait_for(lambda _: "connected" in mine.comments())
            await theirs.wait_for(lambda _: "connected" in theirs.comments())

            seen = statuses(mine)
            added = await hx_post(acting, f"{base}/labels", {"label_id": str(label.id)})
            assert added.status_code == 200
            await mine.wait_for(lambda _: statuses(mine) > seen)

            seen = statuses(mine)
            snoozed = await hx_post(acting, f"{base}/snooze", {"preset": "hour"})
            assert snoozed.status_code == 200
            await mine.wait_for(lambda _: statuses(mine) > seen)

            # Due now: a process's ticker wakes it and the open pane hears it.
            seen = statuses(mine)
            await db_session.execute(
                update(Conversation)
                .where(Conversation.id == UUID(conversation_id))
                .values(snoozed_until=datetime.now(UTC) - timedelta(seconds=1))
            )
            await db_session.commit()
            await mine.wait_for(lambda _: statuses(mine) > seen)

            async def woke() -> bool:
                await db_session.commit()
                status = await db_session.scalar(
                    select(Conversation.status).where(Conversation.id == UUID(conversation_id))
                )
                return status == ConversationStatus.OPEN

            await eventually(woke, within=10)

            # Another branch hears nothing of Alpha's conversation until it is theirs.
            assert theirs.events("list") == []
            moved = await hx_post(acting, f"{base}/transfer", {"branch_id": str(beta.id)})
            assert moved.status_code == 200
            await theirs.wait_for(lambda _: theirs.events("list"))
            listed = await other_branch.get("/conversations")
            assert f'id="conv-{conversation_id}"' in listed.text
            # Alpha's open dashboard is told to drop the row it may no longer show.
            await mine.wait_for(lambda _: mine.events("gone"))
            gone = mine.events("gone")[0].data
            assert gone == f'<li id="conv-{conversation_id}" hx-swap-oob="delete"></li>'
            assert theirs.events("gone") == []
