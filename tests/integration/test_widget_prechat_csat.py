"""The pre-chat form and the satisfaction rating through the Widget API (INTEGRATIONS.md §4)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.csat import submit_rating
from messenger.conversations.listing import ConversationFilters
from messenger.conversations.search import search_conversations
from messenger.conversations.service import ConversationService
from messenger.db.events import pending, take_committed
from messenger.db.models import Conversation, CsatRating, Visitor
from tests.support.app import ClientFactory
from tests.support.desk import OperatorDesk
from tests.support.factories import make_branch, make_conversation, make_inbox, make_user
from tests.support.widget import WidgetVisitor, count, fresh

pytestmark = pytest.mark.timeout(60)

PRECHAT = {
    "prechat": {
        "enabled": True,
        "fields": [
            {"name": "name", "required": True},
            {"name": "email", "required": True},
            {"name": "phone", "required": False},
            {"name": "consent", "required": True},
        ],
    }
}


async def test_prechat_fields_are_validated_on_both_calls(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session), settings=PRECHAT)
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        boot = await tab.bootstrap()
        assert boot["prechat"] == PRECHAT["prechat"]

        bare = await tab.send_raw("hi")
        bad_email = await tab.send_raw(
            "hi", contact={"name": "Ivan", "email": "not-an-email", "consent": True}
        )
        bad_phone = await tab.post(
            "/contact",
            {"contact": {"name": "Ivan", "email": "i@x.ru", "phone": "call me", "consent": True}},
        )
        no_consent = await tab.post(
            "/contact", {"contact": {"name": "Ivan", "email": "i@x.ru", "consent": False}}
        )
        assert await count(db_session, Conversation) == 0
        assert await count(db_session, Visitor) == 0

        saved = await tab.post(
            "/contact",
            {
                "contact": {
                    "name": "Ivan Sidorov",
                    "email": "Ivan@Example.RU",
                    "phone": "+7 (900) 111-22-33",
                    "consent": True,
                }
            },
        )
        first = await tab.send("Hello after the form")

    for refused, field in (
        (bare, "contact.name"),
        (bad_email, "contact.email"),
        (bad_phone, "contact.phone"),
        (no_consent, "contact.consent"),
    ):
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] == "invalid"
        assert field in refused.json()["detail"]
    assert saved.status_code == 200, saved.text
    assert saved.json()["email"] == "ivan@example.ru"
    conversation = await fresh(db_session, Conversation, uuid.UUID(first["conversation_id"]))
    visitor = await fresh(db_session, Visitor, conversation.visitor_id)
    assert (visitor.name, visitor.email, visitor.phone) == (
        "Ivan Sidorov",
        "ivan@example.ru",
        "+7 (900) 111-22-33",
    )
    assert visitor.consent_at is not None


async def test_the_first_send_may_carry_the_contact_and_it_is_searchable(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    branch = await make_branch(db_session)
    operator = await make_user(db_session, [branch])
    inbox = await make_inbox(db_session, branch=branch, settings=PRECHAT)
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        first = await tab.send(
            "Question",
            contact={"name": "Marfa Kuznetsova", "email": "marfa@example.com", "consent": True},
        )
        second = await tab.send("No form again")
    assert second["conversation_id"] == first["conversation_id"]
    await db_session.commit()
    found = await search_conversations(
        db_session, operator, ConversationFilters(status=None, search="Kuznetsova")
    )
    assert [str(r.conversation.id) for r in found.rows] == [first["conversation_id"]]


async def test_csat_once_per_resolution_and_session_bound(
    db_session: AsyncSession, widget_client: ClientFactory, desk: OperatorDesk
) -> None:
    branch = await make_branch(db_session)
    operator = await make_user(db_session, [branch])
    inbox = await make_inbox(db_session, branch=branch)
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        boot = await tab.bootstrap()
        assert boot["csat"] == {"enabled": True}
        sent = await tab.send("Help")
        conversation_id = sent["conversation_id"]
        early = await tab.post("/csat", {"conversation_id": conversation_id, "rating": 5})

        await desk.set_status(conversation_id, operator.id, "resolved")
        stranger = WidgetVisitor(client, inbox.widget_token)
        await stranger.bootstrap()
        foreign = await stranger.post("/csat", {"conversation_id": conversation_id, "rating": 1})
        rated = await tab.post(
            "/csat", {"conversation_id": conversation_id, "rating": 4, "comment": "Quick, thanks"}
        )
        again = await tab.post("/csat", {"conversation_id": conversation_id, "rating": 5})
        out_of_range = await tab.post("/csat", {"conversation_id": conversation_id, "rating": 6})

        await tab.send("One more question")  # reopens
        await desk.set_status(conversation_id, operator.id, "resolved")
        second = await tab.post("/csat", {"conversation_id": conversation_id, "rating": 2})

    assert early.status_code == 409
    assert foreign.status_code == 404
    assert rated.status_code == 201, rated.text
    assert rated.json()["rating"] == 4
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    assert out_of_range.status_code == 422
    assert second.status_code == 201
    rows = (await db_session.scalars(select(CsatRating).order_by(CsatRating.id))).all()
    assert [(r.rating, r.comment) for r in rows] == [(4, "Quick, thanks"), (2, None)]
    assert rows[0].resolution_message_id != rows[1].resolution_message_id


async def test_csat_records_the_csat_submitted_event(db_session: AsyncSession) -> None:
    branch = await make_branch(db_session)
    operator = await make_user(db_session, [branch])
    inbox = await make_inbox(db_session, branch=branch)
    conversation = await make_conversation(db_session, inbox, branch.id)
    await ConversationService(session=db_session).change_status(conversation, "resolved", operator)
    await db_session.commit()
    take_committed(db_session)
    await submit_rating(db_session, conversation, 5, "great")
    events = pending(db_session)
    assert [e.name for e in events] == ["csat.submitted"]
    assert events[0].data["rating"] == 5
    assert events[0].to_visitor is False


async def test_the_schema_describes_identity_contact_and_csat(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    async with widget_client() as client:
        schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    assert set(paths["/api/widget/csat"]["post"]["responses"]) >= {"201", "404", "409", "422"}
    assert "200" in paths["/api/widget/contact"]["post"]["responses"]
    assert "401" in paths["/api/widget/bootstrap"]["post"]["responses"]
    components = schema["components"]["schemas"]
    identity = next(v for k, v in components.items() if k.endswith("IdentityIn"))
    assert set(identity["required"]) == {"identifier", "identity_hash"}
    csat = next(v for k, v in components.items() if k.endswith("CsatRequest"))
    assert csat["properties"]["rating"]["minimum"] == 1
    assert csat["properties"]["rating"]["maximum"] == 5


async def test_identified_visitors_skip_the_prechat_form_and_csat_can_be_off(
    db_session: AsyncSession, widget_client: ClientFactory, desk: OperatorDesk
) -> None:
    from messenger.contacts.identity import identity_hash

    branch = await make_branch(db_session)
    operator = await make_user(db_session, [branch])
    inbox = await make_inbox(
        db_session, branch=branch, settings={**PRECHAT, "csat": {"enabled": False}}
    )
    async with widget_client() as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        boot = await tab.bootstrap(
            identity={
                "identifier": "crm-3",
                "identity_hash": identity_hash(inbox.identity_secret, "crm-3"),
            }
        )
        sent = await tab.send("No form for a known customer")
        await desk.set_status(sent["conversation_id"], operator.id, "resolved")
        rating = await tab.post("/csat", {"conversation_id": sent["conversation_id"], "rating": 5})
    assert boot["prechat"]["enabled"] is False
    assert boot["csat"] == {"enabled": False}
    assert rating.status_code == 409
    assert await count(db_session, CsatRating) == 0


async def test_csat_and_contact_are_throttled_like_sends_and_origin_checked(
    db_session: AsyncSession, widget_client: ClientFactory
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with widget_client(MESSENGER_WIDGET_SEND_RATE_PER_SESSION="3/minute") as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        sent = await tab.send("Hello")
        body = {"conversation_id": sent["conversation_id"], "rating": 3}
        foreign = await client.post(
            "/api/widget/csat",
            json=body,
            headers=tab.headers({"Origin": "https://evil.example"}),
        )
        answers = [await tab.post("/csat", body), await tab.post("/contact", {"contact": {}})]
        over = await tab.post("/csat", body)
    assert foreign.status_code == 403
    assert [a.status_code for a in answers] == [409, 200]
    assert over.status_code == 429
    assert over.json()["error"] == "throttled"
