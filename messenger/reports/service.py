"""Build a report: check what the reader may filter on, run the one query, shape the answer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.actors import Actor
from messenger.errors import NotFoundError
from messenger.i18n import N_
from messenger.reports.filters import ReportFilters
from messenger.reports.queries import Scope, report_statement

WEEKDAYS = range(1, 8)  # ISO: Monday 1 … Sunday 7
HOURS = range(24)


@dataclass(frozen=True, slots=True)
class Summary:
    started: int = 0
    answered: int = 0
    missed: int = 0
    resolved: int = 0
    #: seconds; None when nothing was answered / resolved
    frt_p50: float | None = None
    frt_p90: float | None = None
    rt_p50: float | None = None
    rt_p90: float | None = None


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    started: int
    answered: int
    missed: int


@dataclass(frozen=True, slots=True)
class OperatorRow:
    id: int
    name: str
    #: conversations started in the period and assigned to them now
    assigned: int
    #: conversations whose first operator reply was theirs
    answered: int
    #: median first response (seconds) of those
    frt_p50: float | None
    #: ratings of the conversations assigned to them
    csat_count: int
    csat_average: float | None


@dataclass(frozen=True, slots=True)
class Report:
    filters: ReportFilters
    missed_after_minutes: int
    summary: Summary
    csat_count: int
    csat_average: float | None
    #: rating 1..5 → how many
    csat_distribution: dict[int, int]
    #: (ISO weekday 1..7, hour 0..23) → conversations started
    heat: dict[tuple[int, int], int]
    days: list[Day]
    operators: list[OperatorRow] = field(default_factory=list)

    @property
    def heat_max(self) -> int:
        return max(self.heat.values(), default=0)

    def heat_level(self, weekday: int, hour: int) -> int:
        """0..4, the shade of a heat map cell (its number is always printed too)."""
        count = self.heat.get((weekday, hour), 0)
        if not count or not self.heat_max:
            return 0
        return 1 + min(3, (4 * count - 1) // self.heat_max)

    def chart_data(self) -> dict[str, Any]:
        """What static/dashboard/reports.js draws (the numbers are in the tables as well)."""
        return {
            "days": [d.day.isoformat() for d in self.days],
            "started": [d.started for d in self.days],
            "answered": [d.answered for d in self.days],
            "missed": [d.missed for d in self.days],
            "csat": [self.csat_distribution[r] for r in range(1, 6)],
        }


def _float(value: float | None) -> float | None:
    """JSON writes 4.0 as 4: averages and percentiles are floats again."""
    return None if value is None else float(value)


def scope_of(user: Actor) -> Scope:
    """An admin reads every branch; anybody else only their own branches."""
    if user.is_admin:
        return Scope(branch_ids=None)
    return Scope(branch_ids=frozenset(user.branch_ids) if user.is_active else frozenset())


def _check_filters(filters: ReportFilters, scope: Scope) -> None:
    # Another branch's figures are not yours to ask for: the same 404 as an unknown one.
    if (
        filters.branch_id is not None
        and scope.branch_ids is not None
        and filters.branch_id not in scope.branch_ids
    ):
        raise NotFoundError(N_("No such branch."))


async def build_report(
    session: AsyncSession,
    user: Actor,
    filters: ReportFilters,
    *,
    missed_after_minutes: int,
    now: datetime | None = None,
) -> Report:
    scope = scope_of(user)
    _check_filters(filters, scope)
    statement, params = report_statement(
        filters, scope, now=now or datetime.now(UTC), missed_seconds=missed_after_minutes * 60
    )
    raw = (await session.execute(statement, params)).scalar_one()
    data: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else raw
    csat, s = data["csat"], data["summary"]
    return Report(
        filters=filters,
        missed_after_minutes=missed_after_minutes,
        summary=Summary(
            started=s["started"],
            answered=s["answered"],
            missed=s["missed"],
            resolved=s["resolved"],
            frt_p50=_float(s["frt_p50"]),
            frt_p90=_float(s["frt_p90"]),
            rt_p50=_float(s["rt_p50"]),
            rt_p90=_float(s["rt_p90"]),
        ),
        csat_count=csat["count"],
        csat_average=_float(csat["average"]),
        csat_distribution={b["rating"]: b["count"] for b in data["csat_distribution"]},
        heat={(c["weekday"], c["hour"]): c["count"] for c in data["heat"]},
        days=[
            Day(date.fromisoformat(d["day"]), d["started"], d["answered"], d["missed"])
            for d in data["daily"]
        ],
        operators=[
            OperatorRow(
                **{**o, "frt_p50": _float(o["frt_p50"]), "csat_average": _float(o["csat_average"])}
            )
            for o in data["operators"]
        ],
    )
