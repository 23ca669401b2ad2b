"""GeoIP names in both languages through a real ``messenger serve`` behind a trusted proxy
(issue 14, item 9): the first message (the general path) routes by a city rule written in
Russian and stores both names; a later message (the widget's hot path, raw SQL) refreshes
both when the place changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Conversation, RoutingRule, Visitor
from tests.support.app import RELAXED_ENV
from tests.support.factories import make_branch, make_inbox
from tests.support.geo import KAZAN_IP, write_city_mmdb
from tests.support.widget import WidgetVisitor

pytestmark = pytest.mark.timeout(90)


async def visitor_of(db: AsyncSession, conversation_id: str) -> tuple[Visitor, int | None]:
    await db.commit()
    conversation = await db.get(Conversation, UUID(conversation_id))
    assert conversation is not None
    visitor = await db.scalar(
        select(Visitor)
        .where(Visitor.id == conversation.visitor_id)
        .execution_options(populate_existing=True)
    )
    assert visitor is not None
    return visitor, conversation.branch_id


async def test_both_names_are_stored_on_both_paths_and_a_russian_rule_routes(
    live_server: Any, db_session: AsyncSession, tmp_path: Path
) -> None:
    kazan, main = await make_branch(db_session, "Kazan"), await make_branch(db_session, "Main")
    inbox = await make_inbox(db_session, name="Global", fallback=main)
    db_session.add(
        RoutingRule(inbox_id=inbox.id, conditions={"cities": ["Казань"]}, target_branch_id=kazan.id)
    )
    await db_session.commit()
    server = live_server(
        **RELAXED_ENV,
        MESSENGER_GEOIP_ENABLED="1",
        MESSENGER_GEOIP_DB_PATH=str(write_city_mmdb(tmp_path / "city.mmdb")),
        MESSENGER_TRUSTED_PROXIES="127.0.0.1",
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        from_kazan = WidgetVisitor(client, inbox.widget_token)
        await from_kazan.bootstrap(headers={"X-Forwarded-For": KAZAN_IP})
        first = await from_kazan.send_raw("hi", headers={"X-Forwarded-For": KAZAN_IP})
        assert first.status_code == 201, first.text
        visitor, branch_id = await visitor_of(db_session, first.json()["conversation_id"])
        assert (visitor.city, visitor.city_ru, visitor.country, visitor.country_ru) == (
            "Kazan",
            "Казань",
            "Russia",
            "Россия",
        )
        assert branch_id == kazan.id

        # Someone unlocated first; then from Kazan: the hot path fills both names in.
        moving = WidgetVisitor(client, inbox.widget_token)
        await moving.bootstrap(headers={"X-Forwarded-For": "10.1.2.3"})
        started = await moving.send_raw("hello", headers={"X-Forwarded-For": "10.1.2.3"})
        assert started.status_code == 201
        visitor, branch_id = await visitor_of(db_session, started.json()["conversation_id"])
        assert (visitor.city, visitor.city_ru, branch_id) == (None, None, main.id)
        later = await moving.send_raw("again", headers={"X-Forwarded-For": KAZAN_IP})
        assert later.status_code == 201
        visitor, _ = await visitor_of(db_session, started.json()["conversation_id"])
        assert (visitor.city, visitor.city_ru, visitor.country_ru) == ("Kazan", "Казань", "Россия")
