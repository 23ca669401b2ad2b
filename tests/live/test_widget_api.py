"""Functional tests of the Widget API (request/response calls) on PostgreSQL and Redis.

Most tests run the real app in-process (``AsyncTestClient``); the ones that depend on the
client address or on process environment (GeoIP, ``MESSENGER_DEFAULT_BRANCH_ID``) run a
live ``messenger serve`` process. Operator actions come from the pytest process through the
real services and publisher (see ``tests/widget_helpers.py``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from netaddr import IPSet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import (
    Branch,
    Conversation,
    Inbox,
    Message,
    RoutingRule,
    Visitor,
)
from tests.support.app import RELAXED_ENV
from tests.support.factories import make_branch, make_inbox
from tests.support.widget import ORIGIN, WidgetVisitor, count, fresh

pytestmark = pytest.mark.timeout(60)


async def add_rule(
    db: AsyncSession, inbox: Inbox, target: Branch, conditions: dict[str, Any], position: int
) -> RoutingRule:
    rule = RoutingRule(
        inbox_id=inbox.id,
        position=position,
        name=f"rule {position}",
        conditions=conditions,
        target_branch_id=target.id,
    )
    db.add(rule)
    await db.commit()
    return rule


async def conversation_of(db: AsyncSession, conversation_id: str) -> Conversation:
    conversation = await fresh(db, Conversation, uuid.UUID(conversation_id))
    assert conversation is not None
    return conversation


async def visitor_of(db: AsyncSession, conversation_id: str) -> Visitor:
    conversation = await conversation_of(db, conversation_id)
    visitor = await fresh(db, Visitor, conversation.visitor_id)
    assert visitor is not None
    return visitor


async def test_concurrent_first_sends_open_one_conversation_and_store_one_message_per_id(
    live_server: Callable[..., Any], db_session: AsyncSession
) -> None:
    """A double click and a second tab racing the first message of a session (a live
    server: the in-process test client handles one request at a time)."""
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    server = live_server(**RELAXED_ENV)

    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        tab = WidgetVisitor(client, inbox.widget_token)
        await tab.bootstrap()
        same = [tab.send_raw("double click", "click-1") for _ in range(5)]
        others = [tab.send_raw(f"tab {n}", f"tab-{n}") for n in range(3)]
        responses = await asyncio.gather(*same, *others)

    same_responses, other_responses = responses[:5], responses[5:]
    assert sorted(r.status_code for r in same_responses) == [200, 200, 200, 200, 201]
    assert len({r.json()["id"] for r in same_responses}) == 1
    assert [r.status_code for r in other_responses] == [201, 201, 201]
    assert len({r.json()["conversation_id"] for r in responses}) == 1
    assert await count(db_session, Conversation) == 1
    assert await count(db_session, Visitor) == 1
    assert await count(db_session, Message) == 4


async def test_default_branch_from_the_environment_when_no_rule_and_no_fallback(
    live_server: Callable[..., Any], db_session: AsyncSession
) -> None:
    default = await make_branch(db_session, "Default")
    rule_target = await make_branch(db_session, "Rule target")
    fallback = await make_branch(db_session, "Fallback")
    no_fallback = await make_inbox(db_session, name="No fallback")
    await add_rule(db_session, no_fallback, rule_target, {"page_urls": ["*/ru/*"]}, position=0)
    with_fallback = await make_inbox(db_session, name="With fallback", fallback=fallback)
    server = live_server(**RELAXED_ENV, MESSENGER_DEFAULT_BRANCH_ID=str(default.id))

    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:

        async def first(inbox: Inbox, page: str) -> dict[str, Any]:
            tab = WidgetVisitor(client, inbox.widget_token)
            await tab.bootstrap()
            return await tab.send("hello", page_url=f"{ORIGIN}{page}")

        unmatched = await first(no_fallback, "/de/")
        matched = await first(no_fallback, "/ru/shop")
        fell_back = await first(with_fallback, "/de/")

    assert (await conversation_of(db_session, unmatched["conversation_id"])).branch_id == (
        default.id
    )
    assert (await conversation_of(db_session, matched["conversation_id"])).branch_id == (
        rule_target.id
    )
    assert (await conversation_of(db_session, fell_back["conversation_id"])).branch_id == (
        fallback.id
    )


def write_city_database(path: Path) -> Path:
    from mmdb_writer import MMDBWriter

    writer = MMDBWriter(
        ip_version=4, database_type="GeoIP2-City", languages=["en"], description="test cities"
    )
    writer.insert_network(
        IPSet(["81.2.69.0/24"]),
        {
            "country": {"iso_code": "DE", "names": {"en": "Germany"}},
            "city": {"names": {"en": "Berlin"}},
        },
    )
    writer.insert_network(
        IPSet(["2.125.160.0/24"]),
        {
            "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
            "city": {"names": {"en": "London"}},
        },
    )
    writer.to_db_file(str(path))
    return path


async def test_geoip_enriches_the_visitor_behind_a_trusted_proxy_and_routes_by_country(
    live_server: Callable[..., Any], db_session: AsyncSession, tmp_path: Path
) -> None:
    uk = await make_branch(db_session, "UK")
    main = await make_branch(db_session, "Main")
    inbox = await make_inbox(db_session, name="Global", fallback=main)
    await add_rule(db_session, inbox, uk, {"countries": ["GB"]}, position=0)
    database = write_city_database(tmp_path / "cities.mmdb")
    proxy_env = {
        **RELAXED_ENV,
        "MESSENGER_GEOIP_DB_PATH": str(database),
        "MESSENGER_TRUSTED_PROXIES": "127.0.0.1",
    }
    geo_on = live_server(**proxy_env, MESSENGER_GEOIP_ENABLED="1")
    geo_off = live_server(**proxy_env, MESSENGER_GEOIP_ENABLED="0")

    async def first_message(server: Any, forwarded_for: str) -> Visitor:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            tab = WidgetVisitor(client, inbox.widget_token)
            await tab.bootstrap(headers={"X-Forwarded-For": forwarded_for})
            response = await tab.send_raw(
                "hi", page_url=f"{ORIGIN}/", headers={"X-Forwarded-For": forwarded_for}
            )
        assert response.status_code == 201, response.text
        return await visitor_of(db_session, response.json()["conversation_id"])

    berlin = await first_message(geo_on, "81.2.69.10")
    london = await first_message(geo_on, "2.125.160.20")
    private = await first_message(geo_on, "10.1.2.3")
    switched_off = await first_message(geo_off, "2.125.160.20")

    assert (berlin.country_code, berlin.country, berlin.city) == ("DE", "Germany", "Berlin")
    assert (london.country_code, london.country, london.city) == (
        "GB",
        "United Kingdom",
        "London",
    )
    assert (private.country_code, private.city) == (None, None)
    assert (switched_off.country_code, switched_off.country, switched_off.city) == (
        None,
        None,
        None,
    )
    branches = {
        v.id: (
            await db_session.scalar(
                select(Conversation.branch_id).where(Conversation.visitor_id == v.id)
            )
        )
        for v in (berlin, london, switched_off)
    }
    assert branches == {berlin.id: main.id, london.id: uk.id, switched_off.id: main.id}
