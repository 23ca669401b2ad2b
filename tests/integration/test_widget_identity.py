"""Signed visitor identity (INTEGRATIONS.md §1) through the Widget API, on PostgreSQL/Redis."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.cli.common import announce_inbox_changes
from messenger.config import Settings
from messenger.contacts.identity import identity_hash
from messenger.db.models import Contact, Conversation, Inbox, Visitor
from messenger.inboxes.service import InboxService
from tests.support.app import ClientFactory
from tests.support.factories import make_branch, make_inbox
from tests.support.widget import WidgetVisitor, count, fresh

pytestmark = pytest.mark.timeout(60)


def signed(inbox: Inbox, identifier: str, **extra: Any) -> dict[str, Any]:
    return {
        "identifier": identifier,
        "identity_hash": identity_hash(inbox.identity_secret, identifier),
        **extra,
    }


async def raw_bootstrap(tab: WidgetVisitor, **body: Any) -> httpx.Response:
    return await tab.client.post(
        "/api/widget/bootstrap",
        json={"widget_token": tab.widget_token, **body},
        headers=tab.headers(auth=False),
    )


async def test_identity_restores_the_same_conversation_on_a_second_device(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client() as client:
        laptop = WidgetVisitor(client, inbox.widget_token)
        first = await laptop.bootstrap(
            identity=signed(inbox, "crm-42", name="Anna Petrova", email="Anna@Example.com")
        )
        assert first["identity"] == {"identifier": "crm-42", "verified": True}
        assert first["prechat"]["enabled"] is False
        hello = await laptop.send("Hello from the laptop")

        phone = WidgetVisitor(client, inbox.widget_token)  # no session token at all
        second = await phone.bootstrap(identity=signed(inbox, "crm-42", phone="+7 900 1234567"))
        reply = await phone.send("And from the phone")

    assert second["conversation"]["id"] == hello["conversation_id"]
    assert [m["body"] for m in second["messages"]] == ["Hello from the laptop"]
    assert reply["conversation_id"] == hello["conversation_id"]
    contact = (await db_session.scalars(select(Contact))).one()
    assert (contact.identifier, contact.name, contact.email, contact.phone) == (
        "crm-42",
        "Anna Petrova",
        "anna@example.com",
        "+7 900 1234567",
    )
    visitor = await fresh(db_session, Visitor, contact.visitor_id)
    assert (visitor.name, visitor.email, visitor.phone) == (
        "Anna Petrova",
        "anna@example.com",
        "+7 900 1234567",
    )
    assert await count(db_session, Conversation) == 1


async def test_a_wrong_hash_is_refused_and_writes_nothing(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        forged = await raw_bootstrap(
            tab, identity={"identifier": "crm-42", "identity_hash": "0" * 64}
        )
        other_id = await raw_bootstrap(
            tab, identity={**signed(inbox, "crm-1"), "identifier": "crm-2"}
        )
    for answer in (forged, other_id):
        assert answer.status_code == 401
        assert answer.json()["error"] == "identity_invalid"
        assert inbox.identity_secret not in answer.text
    assert await count(db_session, Contact) == 0
    assert await count(db_session, Visitor) == 0


async def test_identity_required_refuses_anonymous_bootstraps(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(
        db_session, branch=await make_branch(db_session), settings={"identity": {"required": True}}
    )
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        anonymous = await raw_bootstrap(tab)
        assert anonymous.status_code == 401
        assert anonymous.json()["error"] == "identity_required"
        identified = await tab.bootstrap(identity=signed(inbox, "crm-7"))
        assert identified["identity"]["identifier"] == "crm-7"
        # the contact's own session token, without the identity, is refused too
        again = await raw_bootstrap(tab, session_token=tab.session_token)
        assert again.status_code == 401
        assert again.json()["error"] == "identity_required"


async def test_identity_required_ends_anonymous_sessions_issued_before(
    db_session: AsyncSession, widget_client: ClientFactory, settings: Settings
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client() as client:
        anonymous = WidgetVisitor(client, inbox.widget_token)
        await anonymous.bootstrap()
        await anonymous.send("before the switch")
        contact = WidgetVisitor(client, inbox.widget_token)
        await contact.bootstrap(identity=signed(inbox, "crm-8"))
        await InboxService(session=db_session).update_settings(
            inbox.id,
            {"security": {"allowed_domains": ["shop.example"]}, "identity": {"required": True}},
        )
        await db_session.commit()
        await announce_inbox_changes(settings)
        refused = await anonymous.send_raw("after the switch")
        allowed = await contact.send_raw("identified")
    assert refused.status_code == 401
    assert refused.json()["error"] == "identity_required"
    assert allowed.status_code == 201


async def test_an_anonymous_session_is_not_merged_into_the_contact(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        secret = await tab.send("anonymous question")
        signed_in = await tab.bootstrap(identity=signed(inbox, "crm-9"))  # same session token
        assert signed_in["conversation"] is None
        assert signed_in["messages"] == []
        mine = await tab.send("as the contact")
        # back to anonymous with the contact's token: not the contact's history
        logged_out = await tab.bootstrap(session_token=signed_in["session_token"])

    assert mine["conversation_id"] != secret["conversation_id"]
    assert logged_out["conversation"] is None
    assert logged_out["identity"] is None
    contact = (await db_session.scalars(select(Contact))).one()
    anonymous = await fresh(
        db_session, Conversation, __import__("uuid").UUID(secret["conversation_id"])
    )
    assert anonymous.visitor_id != contact.visitor_id


async def test_two_identities_in_one_browser_never_see_each_other(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap(identity=signed(inbox, "alice"))
        alice = await tab.send("Alice's secret")
        bob_boot = await tab.bootstrap(identity=signed(inbox, "bob"))  # Alice's token sent along
        assert bob_boot["conversation"] is None
        assert bob_boot["messages"] == []
        bob = await tab.send("Bob's question")
        polled = await tab.poll(0)
        back = await tab.bootstrap(identity=signed(inbox, "alice"))

    assert bob["conversation_id"] != alice["conversation_id"]
    assert [m["body"] for m in polled["messages"]] == ["Bob's question"]
    assert [m["body"] for m in back["messages"]] == ["Alice's secret"]


async def test_rotating_the_identity_secret_invalidates_old_hashes(
    db_session: AsyncSession, widget_client: ClientFactory, settings: Settings
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    old = signed(inbox, "crm-5")
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap(identity=old)
        rotated = await InboxService(session=db_session).rotate_identity_secret(inbox.id)
        await db_session.commit()
        await announce_inbox_changes(settings)  # as the dashboard and the CLI do after commit
        assert rotated.identity_secret != old["identity_hash"]
        refused = await raw_bootstrap(WidgetVisitor(client, inbox.widget_token), identity=old)
        renewed = await WidgetVisitor(client, inbox.widget_token).bootstrap(
            identity=signed(rotated, "crm-5")
        )
    assert refused.status_code == 401
    assert refused.json()["error"] == "identity_invalid"
    assert renewed["identity"]["identifier"] == "crm-5"
    assert await count(db_session, Contact) == 1
