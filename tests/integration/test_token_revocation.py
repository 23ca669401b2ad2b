"""Rotating a widget token can end the visitor sessions of the old one (issue 11, item 8):
``messenger inbox rotate-token --revoke-sessions`` and the admin page's checkbox."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Inbox, UserRole
from tests.support.app import app_client
from tests.support.dashboard import form_post, fresh, quick_user, signed_in
from tests.support.env import cli_env, run_cli
from tests.support.factories import make_inbox

SHOP = {"Origin": "https://shop.example"}

pytestmark = pytest.mark.usefixtures("clean_db")


async def bootstrap(client: httpx.AsyncClient, widget_token: str, session: str | None) -> Any:
    answer = await client.post(
        "/api/widget/bootstrap",
        json={"widget_token": widget_token, "session_token": session},
        headers=SHOP,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def send(client: httpx.AsyncClient, session: str, text: str) -> httpx.Response:
    return await client.post(
        "/api/widget/messages",
        json={"body": text, "client_msg_id": text.replace(" ", "-")},
        headers={**SHOP, "Authorization": f"Bearer {session}"},
    )


async def next_second() -> None:
    """Session tokens carry whole seconds; one issued in the rotation's second is revoked."""
    await asyncio.sleep(1.05 - time.time() % 1)


async def test_rotate_token_with_revoke_sessions_ends_the_old_sessions(
    env: dict[str, str], db_session: AsyncSession
) -> None:
    kept = await make_inbox(db_session, name="Kept", domains=["shop.example"])
    ended = await make_inbox(db_session, name="Ended", domains=["shop.example"])
    async with app_client(env, relaxed=True) as client:
        keep_session = (await bootstrap(client, kept.widget_token, None))["session_token"]
        old = await bootstrap(client, ended.widget_token, None)
        assert (await send(client, old["session_token"], "before")).status_code == 201

        plain = run_cli("inbox", "rotate-token", str(kept.id), "--json", env=cli_env(**env))
        assert plain.returncode == 0, plain.stderr
        revoked = run_cli(
            "inbox", "rotate-token", str(ended.id), "--revoke-sessions", "--json",
            env=cli_env(**env),
        )  # fmt: skip
        assert revoked.returncode == 0, revoked.stderr
        assert '"sessions_revoked_at": "' in revoked.stdout

        # Without the option, the visitors' sessions go on; with it, they are over.
        assert (await send(client, keep_session, "still here")).status_code == 201
        refused = await send(client, old["session_token"], "after")
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]
        stream = await client.get(
            "/api/widget/messages",
            headers={**SHOP, "Authorization": f"Bearer {old['session_token']}"},
        )
        assert stream.status_code == 401

        # A bootstrap with the old session and the new token is a new visitor, without
        # the old conversation; the new session works.
        await next_second()
        new_token = (await fresh(db_session, Inbox, ended.id)).widget_token
        again = await bootstrap(client, new_token, old["session_token"])
        assert again["conversation"] is None
        assert again["messages"] == []
        assert (await send(client, again["session_token"], "new")).status_code == 201


async def test_the_admin_checkbox_ends_the_sessions(
    env: dict[str, str], tmp_path: Any, db_session: AsyncSession
) -> None:
    inbox = await make_inbox(db_session, name="Shop", domains=["shop.example"])
    admin = await quick_user(
        db_session, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN
    )
    await db_session.commit()
    app_env = {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}
    async with app_client(app_env, relaxed=True) as client:
        session = (await bootstrap(client, inbox.widget_token, None))["session_token"]
        await signed_in(client, admin.email)
        page = await client.get(f"/admin/inboxes/{inbox.id}")
        assert 'name="revoke_sessions"' in page.text

        rotated = await form_post(
            client, f"/admin/inboxes/{inbox.id}/rotate-token", {"revoke_sessions": "1"}
        )
        assert rotated.status_code == 303
        stored = await fresh(db_session, Inbox, inbox.id)
        assert stored.sessions_revoked_at is not None
        assert (await send(client, session, "after")).status_code == 401
        page = await client.get(f"/admin/inboxes/{inbox.id}")
        assert "Visitor sessions ended at" in page.text
