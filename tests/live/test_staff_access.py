"""Issue 11: an open staff stream loses withdrawn access within 5 s (a real ``messenger serve``
process, the default 15 s heartbeat: the access check, every 3 s and on every event, ends it)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.service import UserService
from messenger.db.models import UserRole
from tests.support.dashboard import quick_user, signed_in
from tests.support.factories import make_branch
from tests.support.sse import staff_stream

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize("change", ["deactivation", "demotion", "branch removal"])
async def test_withdrawn_access_ends_an_open_staff_stream_within_5_s(
    live_server, db_session: AsyncSession, change: str
) -> None:
    alpha = await make_branch(db_session, "Alpha")
    beta = await make_branch(db_session, "Beta")
    role = UserRole.ADMIN if change == "demotion" else UserRole.OPERATOR
    user = await quick_user(
        db_session, [alpha, beta], email="anna@example.com", name="Anna", role=role
    )
    admin = await quick_user(
        db_session, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN
    )
    await db_session.commit()
    server = live_server()  # MESSENGER_STREAM_HEARTBEAT_SECONDS stays at its 15 s default
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as browser:
        await signed_in(browser, "anna@example.com")
        async with staff_stream(browser) as stream:
            assert stream.response.status_code == 200
            await stream.wait_for(lambda _: "connected" in stream.comments())
            # It lives through access checks while nothing changes.
            await stream.wait_for(lambda s: s.beats() >= 2, within=10)
            assert not stream.ended.is_set()
            users = UserService(session=db_session)
            if change == "deactivation":
                await users.set_active(user.id, active=False)
            elif change == "demotion":
                await users.update_staff(
                    user.id,
                    actor=admin,
                    name=user.name,
                    role=UserRole.OPERATOR,
                    active=True,
                    branches=[alpha, beta],
                )
            else:
                await users.set_branches(user.id, [alpha])
            await db_session.commit()
            changed_at = asyncio.get_running_loop().time()
            await asyncio.wait_for(stream.ended.wait(), 5)
            assert stream.ended_at is not None
            assert stream.ended_at - changed_at < 5.0
        # The page reconnects with what is left: nothing after a deactivation, the narrower
        # scope otherwise.
        again = await browser.get("/conversations", follow_redirects=False)
        assert again.status_code == (303 if change == "deactivation" else 200)
