"""Staff side of identity, pre-chat and CSAT: the visitor panel's "verified" contact and
earlier conversations, the rating on the conversation and in the list (column, filter,
keyset paging), the identity secret on the admin page and its rotation (CSRF), scope."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.contacts.identity import identity_hash
from messenger.conversations.csat import submit_rating
from messenger.conversations.service import ConversationService
from messenger.db.models import Conversation, Inbox, UserRole
from tests.support.app import app_client
from tests.support.dashboard import csrf_of, fresh, listed_ids, quick_user, signed_in
from tests.support.factories import make_branch, make_conversation, make_inbox
from tests.support.widget import WidgetVisitor

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def app_env(env: dict[str, str], tmp_path: Any) -> dict[str, str]:
    return {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}


async def test_verified_contact_csat_column_filter_and_scope(
    db_session: AsyncSession, app_env: dict[str, str]
) -> None:
    branch = await make_branch(db_session, "Moscow")
    other = await make_branch(db_session, "Kazan")
    operator = await quick_user(db_session, [branch], email="op@example.com", name="Olga")
    await quick_user(db_session, [other], email="out@example.com", name="Oleg")
    await db_session.commit()
    inbox: Inbox = await make_inbox(db_session, branch=branch)
    identity = {
        "identifier": "crm-77",
        "identity_hash": identity_hash(inbox.identity_secret, "crm-77"),
        "name": "Vera Contact",
    }
    async with app_client(app_env, relaxed=True) as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap(identity=identity)
        first = await tab.send("First visit")
        conversations = ConversationService(session=db_session)
        conv = await fresh(db_session, Conversation, uuid.UUID(first["conversation_id"]))
        await conversations.change_status(conv, "closed", operator)
        await db_session.commit()
        device = WidgetVisitor(client, inbox.widget_token)
        await device.bootstrap(identity=identity)
        second = await device.send("Second visit")
        conv2 = await fresh(db_session, Conversation, uuid.UUID(second["conversation_id"]))
        await conversations.change_status(conv2, "resolved", operator)
        await db_session.commit()
        await submit_rating(db_session, conv2, 2, "Too slow <b>really</b>")
        unrated = [
            await make_conversation(db_session, inbox, branch.id, name=f"U{i}") for i in range(3)
        ]
        await db_session.commit()

        await signed_in(client, "op@example.com")
        pane = await client.get(f"/conversations/{second['conversation_id']}")
        panel = await client.get(f"/conversations/{second['conversation_id']}/csat")
        low = await client.get("/conversations", params={"status": "any", "csat": "low"})
        not_rated = await client.get("/conversations", params={"status": "any", "csat": "unrated"})

        await signed_in(client, "out@example.com")  # another branch's operator
        foreign = await client.get(f"/conversations/{second['conversation_id']}/csat")

    assert pane.status_code == 200
    assert "verified" in pane.text
    assert "crm-77" in pane.text
    assert first["conversation_id"] in pane.text  # the contact's earlier conversation
    assert "Too slow &lt;b&gt;really&lt;/b&gt;" in pane.text
    assert panel.status_code == 200
    assert 'data-rating="2"' in panel.text
    assert listed_ids(low.text) == {second["conversation_id"]}
    assert "★ 2" in low.text
    assert second["conversation_id"] not in listed_ids(not_rated.text)
    assert {str(c.id) for c in unrated} <= listed_ids(not_rated.text)
    assert foreign.status_code == 404


async def test_admin_page_shows_and_rotates_the_identity_secret(
    db_session: AsyncSession, app_env: dict[str, str]
) -> None:
    branch = await make_branch(db_session)
    await quick_user(
        db_session, [branch], email="admin@example.com", name="Ada", role=UserRole.ADMIN
    )
    await db_session.commit()
    inbox = await make_inbox(db_session, branch=branch)
    old = inbox.identity_secret
    async with app_client(app_env, relaxed=True) as client:
        await signed_in(client, "admin@example.com")
        page = await client.get(f"/admin/inboxes/{inbox.id}")
        no_csrf = await client.post(f"/admin/inboxes/{inbox.id}/rotate-identity-secret")
        rotated = await client.post(
            f"/admin/inboxes/{inbox.id}/rotate-identity-secret",
            data={"_csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        after = await client.get(f"/admin/inboxes/{inbox.id}")
    assert old in page.text
    assert no_csrf.status_code == 403
    assert rotated.status_code == 303
    new = (await fresh(db_session, Inbox, inbox.id)).identity_secret
    assert new != old
    assert new in after.text
    assert old not in after.text
    assert re.search(r'id="identity-secret"', after.text)
