"""Routing conditions on their own: matching, normalising, refusing (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from messenger.db.models import RoutingRule
from messenger.errors import InvalidInputError
from messenger.routing.conditions import VisitorContext, normalize_conditions, parse_conditions
from tests.support.routing_cases import CONDITION_CASES


@pytest.mark.parametrize(("conditions", "visitor", "expected"), CONDITION_CASES)
def test_each_condition_type(
    conditions: dict[str, Any], visitor: dict[str, str | None], expected: bool
):
    assert parse_conditions(conditions).matches(VisitorContext(**visitor)) is expected


@pytest.mark.parametrize(
    "conditions",
    [
        {"countries": ["RUS"]},
        {"countries": ["R1"]},
        {"countries": [""]},
        {"countries": "RU"},
        {"cities": [""]},
        {"page_urls": ["x" * 501]},
        {"region": ["Tatarstan"]},
        {"languages": [5]},
        ["countries", "RU"],
    ],
)
def test_bad_conditions_are_refused(conditions: Any):
    with pytest.raises(InvalidInputError):
        normalize_conditions(conditions)
    with pytest.raises(InvalidInputError):  # the model validates on construction...
        RoutingRule(inbox_id=1, conditions=conditions, target_branch_id=1)
    rule = RoutingRule(inbox_id=1, conditions={"countries": ["RU"]}, target_branch_id=1)
    with pytest.raises(InvalidInputError):  # ...and on every assignment
        rule.conditions = conditions
    assert rule.conditions["countries"] == ["RU"]
