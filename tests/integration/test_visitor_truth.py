"""The visitor panel tells the truth (issue 14, item 9): the referrer the widget sends is
stored with the visitor's first message and shown; GeoIP place names are stored in English
and Russian and shown in the staff language; routing rules match a city in either."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.conversations.intake import ConversationIntake
from messenger.db.models import Conversation, RoutingRule, Visitor
from messenger.visitors.geo import GeoLocator
from messenger.visitors.service import Caller
from tests.support.app import app_client
from tests.support.dashboard import Visitor as SiteVisitor
from tests.support.dashboard import quick_user, signed_in
from tests.support.factories import make_branch, make_inbox
from tests.support.geo import KAZAN_IP, write_city_mmdb

pytestmark = pytest.mark.timeout(90)

ORIGIN = "https://shop.example"


async def visitor_of(db: AsyncSession, conversation_id: str) -> Visitor:
    await db.commit()
    conversation = await db.get(Conversation, uuid.UUID(conversation_id))
    assert conversation is not None
    visitor = await db.scalar(
        select(Visitor)
        .where(Visitor.id == conversation.visitor_id)
        .execution_options(populate_existing=True)
    )
    assert visitor is not None
    return visitor


@pytest.fixture
def app_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}


async def test_the_referrer_is_stored_with_the_first_message_and_kept(
    db_session: AsyncSession, app_env: dict[str, Any]
) -> None:
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    async with app_client(app_env, relaxed=True) as client:
        tab = SiteVisitor(client, inbox.widget_token, ORIGIN)
        await tab.bootstrap(referrer="https://search.example/?q=shoes", page_url=f"{ORIGIN}/")
        first = await tab.send("hi", referrer="https://search.example/?q=shoes")
        assert (await visitor_of(db_session, first["conversation_id"])).referrer == (
            "https://search.example/?q=shoes"
        )
        # A later page of the same visit names another referrer: the first one stays.
        await tab.send("and one more", referrer=f"{ORIGIN}/catalog")
        assert (await visitor_of(db_session, first["conversation_id"])).referrer == (
            "https://search.example/?q=shoes"
        )
        # The offline form carries it too.
        offline = SiteVisitor(client, inbox.widget_token, ORIGIN)
        sent = await offline.offline(
            name="Olga", email="olga@example.com", body="call me", referrer="https://ads.example/"
        )
        assert (await visitor_of(db_session, sent["conversation_id"])).referrer == (
            "https://ads.example/"
        )
        too_long = await client.post(
            "/api/widget/messages",
            json={"body": "x", "client_msg_id": "long-ref", "referrer": "h" * 2001},
            headers=tab.headers(),
        )
        assert too_long.status_code == 400 or too_long.status_code == 422, too_long.text


async def test_geoip_names_are_stored_in_both_languages_and_a_russian_rule_routes(
    db_session: AsyncSession, env: dict[str, str], tmp_path: Path
) -> None:
    kazan = await make_branch(db_session, "Kazan")
    main = await make_branch(db_session, "Main")
    inbox = await make_inbox(db_session, name="Global", fallback=main)
    db_session.add(
        RoutingRule(
            inbox_id=inbox.id,
            position=0,
            conditions={"cities": ["Казань"]},
            target_branch_id=kazan.id,
        )
    )
    await db_session.commit()
    settings = Settings.from_env(
        {
            **env,
            "MESSENGER_GEOIP_ENABLED": "1",
            "MESSENGER_GEOIP_DB_PATH": str(write_city_mmdb(tmp_path / "city.mmdb")),
        }
    )
    geo = GeoLocator(settings.geoip_db_path)
    try:
        intake = await ConversationIntake(db_session, settings, geo).take(
            inbox, uuid.uuid4(), Caller(ip=KAZAN_IP), f"{ORIGIN}/", referrer="https://r.example/"
        )
        elsewhere = await ConversationIntake(db_session, settings, geo).take(
            inbox, uuid.uuid4(), Caller(ip="198.51.100.1"), f"{ORIGIN}/"
        )
    finally:
        geo.close()
    visitor = intake.visitor
    assert (visitor.country_code, visitor.country, visitor.city) == ("RU", "Russia", "Kazan")
    assert (visitor.country_ru, visitor.city_ru) == ("Россия", "Казань")
    assert visitor.referrer == "https://r.example/"
    assert intake.conversation.branch_id == kazan.id
    assert elsewhere.conversation.branch_id == main.id


async def test_the_visitor_panel_shows_the_referrer_and_the_place_in_the_staff_language(
    db_session: AsyncSession, app_env: dict[str, Any]
) -> None:
    branch = await make_branch(db_session, "Alpha")
    inbox = await make_inbox(db_session, branch=branch)
    await quick_user(db_session, [branch], email="anna@example.com", name="Anna")
    await db_session.commit()
    async with app_client(app_env, relaxed=True) as client:
        tab = SiteVisitor(client, inbox.widget_token, ORIGIN)
        first = await tab.send("hi", referrer="https://search.example/?q=<b>shoes</b>")
        visitor = await visitor_of(db_session, first["conversation_id"])
        visitor.country, visitor.city = "Russia", "Kazan"
        visitor.country_ru, visitor.city_ru = "Россия", "Казань"
        await db_session.commit()
        await signed_in(client, "anna@example.com")
        path = f"/conversations/{first['conversation_id']}"
        english = (await client.get(path, headers={"Accept-Language": "en"})).text
        assert '<dd class="location">Kazan, Russia</dd>' in english
        # Escaped like everything a visitor sends.
        assert "https://search.example/?q=&lt;b&gt;shoes&lt;/b&gt;" in english
        client.cookies.set("messenger_locale", "ru")
        russian = (await client.get(path)).text
        assert '<dd class="location">Казань, Россия</dd>' in russian
