"""Routing of a new conversation to a branch, against real PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Branch, Inbox, RoutingRule
from messenger.routing.conditions import VisitorContext
from messenger.routing.service import RoutingRuleService
from tests.support.factories import make_branch, make_inbox
from tests.support.routing_cases import CONDITION_CASES


async def add_rule(
    session: AsyncSession,
    inbox: Inbox,
    target: Branch,
    conditions: dict[str, Any],
    position: int = 0,
    name: str = "",
) -> RoutingRule:
    rule = RoutingRule(
        inbox_id=inbox.id,
        position=position,
        name=name,
        conditions=conditions,
        target_branch_id=target.id,
    )
    return await RoutingRuleService(session=session).create(rule, auto_commit=True)


@pytest.fixture
async def branches(db_session: AsyncSession) -> dict[str, Branch]:
    return {
        name: await make_branch(db_session, name)
        for name in ("Moscow", "Kazan", "Almaty", "Fallback", "Default")
    }


async def route(
    session: AsyncSession,
    inbox: Inbox,
    default_branch_id: int | None = None,
    **visitor: str | None,
) -> int | None:
    return await RoutingRuleService(session=session).route(
        inbox, VisitorContext(**visitor), default_branch_id
    )


async def test_a_matching_rule_picks_its_branch(db_session: AsyncSession, branches):
    inbox = await make_inbox(db_session)
    await add_rule(db_session, inbox, branches["Kazan"], {"countries": ["RU"]})
    assert await route(db_session, inbox, country_code="RU") == branches["Kazan"].id
    assert await route(db_session, inbox, country_code="KZ") is None


async def test_first_match_by_position_wins_not_insertion_order(db_session: AsyncSession, branches):
    inbox = await make_inbox(db_session)
    # Inserted first, but later in the list.
    await add_rule(db_session, inbox, branches["Almaty"], {}, position=30, name="catch-all")
    await add_rule(db_session, inbox, branches["Kazan"], {"countries": ["RU"]}, position=20)
    await add_rule(
        db_session,
        inbox,
        branches["Moscow"],
        {"countries": ["RU"], "cities": ["Moscow"]},
        position=10,
    )

    assert await route(db_session, inbox, country_code="RU", city="Moscow") == branches["Moscow"].id
    assert await route(db_session, inbox, country_code="RU", city="Kazan") == branches["Kazan"].id
    assert await route(db_session, inbox, country_code="KZ") == branches["Almaty"].id
    assert await route(db_session, inbox) == branches["Almaty"].id

    rules = await RoutingRuleService(session=db_session).rules_of(inbox.id)
    assert [r.position for r in rules] == [10, 20, 30]


async def test_equal_positions_keep_creation_order(db_session: AsyncSession, branches):
    inbox = await make_inbox(db_session)
    await add_rule(db_session, inbox, branches["Kazan"], {"countries": ["RU"]}, position=5)
    await add_rule(db_session, inbox, branches["Moscow"], {"countries": ["RU"]}, position=5)
    assert await route(db_session, inbox, country_code="RU") == branches["Kazan"].id


async def test_rules_of_another_inbox_are_ignored(db_session: AsyncSession, branches):
    inbox = await make_inbox(db_session, name="Shop")
    other = await make_inbox(db_session, name="Blog", fallback=branches["Fallback"])
    await add_rule(db_session, inbox, branches["Kazan"], {})
    assert await route(db_session, other, country_code="RU") == branches["Fallback"].id


async def test_the_service_applies_every_condition_case(db_session: AsyncSession, branches):
    """The same cases through stored rules (normalised on write) and the routing service."""
    for i, (conditions, visitor, expected) in enumerate(CONDITION_CASES):
        inbox = await make_inbox(db_session, name=f"Site {i}", fallback=branches["Fallback"])
        await add_rule(db_session, inbox, branches["Kazan"], conditions)
        branch_id = await route(db_session, inbox, **visitor)
        wanted = branches["Kazan"].id if expected else branches["Fallback"].id
        assert branch_id == wanted, (conditions, visitor)


async def test_no_rule_matches_then_the_inbox_fallback_branch(db_session: AsyncSession, branches):
    inbox = await make_inbox(db_session, fallback=branches["Fallback"])
    await add_rule(db_session, inbox, branches["Kazan"], {"countries": ["RU"]})
    assert (
        await route(db_session, inbox, branches["Default"].id, country_code="KZ")
        == branches["Fallback"].id
    )


async def test_no_rule_and_no_fallback_then_the_default_branch(db_session: AsyncSession, branches):
    inbox = await make_inbox(db_session)
    await add_rule(db_session, inbox, branches["Kazan"], {"countries": ["RU"]})
    assert (
        await route(db_session, inbox, branches["Default"].id, country_code="KZ")
        == branches["Default"].id
    )
    no_rules = await make_inbox(db_session, name="Empty")
    assert await route(db_session, no_rules, branches["Default"].id) == branches["Default"].id


async def test_nothing_at_all_routes_to_none(db_session: AsyncSession, branches):
    inbox = await make_inbox(db_session)
    assert await route(db_session, inbox, None, country_code="RU") is None
    await add_rule(db_session, inbox, branches["Kazan"], {"countries": ["KZ"]})
    assert await route(db_session, inbox, None, country_code="RU") is None


async def test_a_branch_inbox_goes_to_its_branch_and_ignores_rules(
    db_session: AsyncSession, branches
):
    inbox = await make_inbox(db_session, branch=branches["Moscow"])
    assert not inbox.is_global
    await add_rule(db_session, inbox, branches["Kazan"], {})  # would match everyone
    await add_rule(db_session, inbox, branches["Almaty"], {"countries": ["KZ"]}, position=-1)
    assert await route(db_session, inbox, branches["Default"].id) == branches["Moscow"].id
    assert (
        await route(db_session, inbox, branches["Default"].id, country_code="KZ")
        == branches["Moscow"].id
    )


async def test_rule_conditions_are_normalised_on_write(db_session: AsyncSession, branches):
    inbox = await make_inbox(db_session)
    rule = await add_rule(
        db_session,
        inbox,
        branches["Kazan"],
        {"countries": [" ru "], "languages": ["EN-us"], "cities": [" Kazan "]},
    )
    await db_session.refresh(rule)
    assert rule.conditions == {
        "countries": ["RU"],
        "cities": ["Kazan"],
        "page_urls": [],
        "languages": ["en"],
    }
