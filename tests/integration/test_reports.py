"""Report figures on a desk with known answers (tests/support/report_data.py), against
PostgreSQL without HTTP: counts, percentiles, CSAT, time zones across midnight, filters and
branch scope, the CSV tables."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.errors import NotFoundError
from messenger.i18n import use_locale
from messenger.reports.csv_tables import TABLES, report_csv, safe_cell
from messenger.reports.filters import ReportFilters
from messenger.reports.service import Report, build_report
from tests.support.report_data import (
    BORIS_NAME,
    MISSED_AFTER_MINUTES,
    NOW,
    ReportDesk,
    build_report_desk,
)

pytestmark = pytest.mark.timeout(60)

WEEK = {"date_from": date(2026, 11, 2), "date_to": date(2026, 11, 8)}


@pytest.fixture
async def desk(db_session: AsyncSession) -> ReportDesk:
    return await build_report_desk(db_session)


async def report(db: AsyncSession, user, **filters) -> Report:  # type: ignore[no-untyped-def]
    return await build_report(
        db,
        user,
        ReportFilters(**{**WEEK, **filters}),
        missed_after_minutes=MISSED_AFTER_MINUTES,
        now=NOW,
    )


async def test_an_admin_sees_every_figure_of_every_branch(
    db_session: AsyncSession, desk: ReportDesk
) -> None:
    r = await report(db_session, desk.admin)
    s = r.summary
    # c1..c6 started in the week (c7 in October does not count)
    assert (s.started, s.answered, s.missed, s.resolved) == (6, 4, 2, 4)
    # first responses 60, 120, 600 (Ada's reply; Olga's earlier note is no reply), 1200
    assert s.frt_p50 == pytest.approx(360)
    assert s.frt_p90 == pytest.approx(1020)
    # resolutions 600, 1800, 3600, 7200
    assert s.rt_p50 == pytest.approx(2700)
    assert s.rt_p90 == pytest.approx(6120)
    assert r.csat_count == 4
    assert r.csat_average == pytest.approx(3.25)
    assert r.csat_distribution == {1: 1, 2: 0, 3: 1, 4: 1, 5: 1}
    assert [(d.day.isoformat(), d.started, d.answered, d.missed) for d in r.days] == [
        ("2026-11-02", 1, 1, 0),
        ("2026-11-03", 2, 2, 1),
        ("2026-11-04", 1, 0, 1),
        ("2026-11-05", 1, 1, 0),
        ("2026-11-08", 1, 0, 0),  # c5: five minutes old, waiting, not missed
    ]
    # ISO weekday and hour, UTC: c4 on Thursday at 23, c5 on Sunday at 22
    assert r.heat == {(1, 10): 1, (2, 12): 1, (2, 8): 1, (3, 9): 1, (4, 23): 1, (7, 22): 1}
    assert (r.heat_level(4, 23), r.heat_level(4, 22)) == (4, 0)  # the darkest, the empty
    rows = {o.name: o for o in r.operators}
    assert set(rows) == {"Ada", "Olga", BORIS_NAME}
    olga, ada, boris = rows["Olga"], rows["Ada"], rows[BORIS_NAME]
    assert (olga.assigned, olga.answered, olga.frt_p50) == (3, 2, pytest.approx(660))
    # CSAT of the conversations assigned to them: Olga's c1, c2, c4 (5, 3, 4)
    assert (olga.csat_count, olga.csat_average) == (3, pytest.approx(4.0))
    assert (ada.assigned, ada.answered, ada.frt_p50) == (0, 1, pytest.approx(600))
    assert (ada.csat_count, ada.csat_average) == (0, None)
    assert (boris.assigned, boris.answered, boris.csat_average) == (1, 1, pytest.approx(1.0))


async def test_days_and_hours_are_the_readers_time_zone(
    db_session: AsyncSession, desk: ReportDesk
) -> None:
    r = await report(db_session, desk.admin, timezone="Europe/Moscow")
    # c4 (Thursday 23:30 UTC) is Friday 02:30 in Moscow; c5 (Sunday 22:00 UTC) is Monday
    # 01:00 there: after the period.
    assert r.summary.started == 5
    assert [d.day.isoformat() for d in r.days] == [
        "2026-11-02",
        "2026-11-03",
        "2026-11-04",
        "2026-11-06",
    ]
    assert r.heat[(5, 2)] == 1
    assert (4, 23) not in r.heat
    assert r.heat[(2, 11)] == 1  # c6, 08:00 UTC
    # The next day in Moscow starts at 21:00 UTC on Sunday: c5 is there.
    monday = await report(
        db_session,
        desk.admin,
        timezone="Europe/Moscow",
        date_from=date(2026, 11, 9),
        date_to=date(2026, 11, 9),
    )
    assert monday.summary.started == 1
    assert monday.heat == {(1, 1): 1}


async def test_an_operator_sees_their_branches_only(
    db_session: AsyncSession, desk: ReportDesk
) -> None:
    r = await report(db_session, desk.olga)
    s = r.summary
    assert (s.started, s.answered, s.missed, s.resolved) == (5, 3, 2, 3)  # not Beta's c6
    assert r.csat_distribution == {1: 0, 2: 0, 3: 1, 4: 1, 5: 1}  # not Boris's 1
    assert BORIS_NAME not in {o.name for o in r.operators}
    assert (2, 8) not in r.heat
    boris = await report(db_session, desk.boris)
    assert (boris.summary.started, boris.csat_count) == (1, 1)
    assert {o.name for o in boris.operators} == {BORIS_NAME}
    # Asking for another branch's figures is a 404, like an unknown branch.
    with pytest.raises(NotFoundError):
        await report(db_session, desk.olga, branch_id=desk.beta.id)
    # Filters cannot widen the scope: Beta's inbox through Olga's eyes is empty.
    assert (await report(db_session, desk.olga, inbox_id=desk.beta_inbox.id)).summary.started == 0


async def test_filters_by_inbox_branch_operator_and_label(
    db_session: AsyncSession, desk: ReportDesk
) -> None:
    admin = desk.admin
    assert (await report(db_session, admin, inbox_id=desk.beta_inbox.id)).summary.started == 1
    assert (await report(db_session, admin, branch_id=desk.alpha.id)).summary.started == 5
    by_olga = await report(db_session, admin, operator_id=desk.olga.id)
    assert (by_olga.summary.started, by_olga.summary.answered) == (3, 3)
    vip = await report(db_session, admin, label_id=desk.vip.id)
    assert (vip.summary.started, vip.summary.answered, vip.summary.missed) == (1, 0, 1)
    assert vip.summary.frt_p50 is None
    assert vip.csat_average is None
    assert vip.operators == []


async def test_an_empty_period_has_zeros_and_no_percentiles(
    db_session: AsyncSession, desk: ReportDesk
) -> None:
    r = await report(db_session, desk.admin, date_from=date(2025, 1, 1), date_to=date(2025, 1, 7))
    assert (r.summary.started, r.summary.frt_p50, r.csat_count) == (0, None, 0)
    assert r.days == []
    assert r.heat == {}
    assert r.operators == []
    assert r.csat_distribution == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}


async def test_every_table_downloads_as_csv_without_formulas(
    db_session: AsyncSession, desk: ReportDesk
) -> None:
    r = await report(db_session, desk.admin)
    with use_locale("en"):
        tables = {name: list(csv.reader(io.StringIO(report_csv(r, name)))) for name in TABLES}
    summary = dict(tables["summary"][1:])
    assert summary["Conversations started"] == "6"
    assert summary["First response p90, seconds"] == "1020"
    assert summary["CSAT average"] == "3.25"
    assert tables["daily"][1] == ["2026-11-02", "1", "1", "0"]
    assert tables["csat"][1:] == [["1", "1"], ["2", "0"], ["3", "1"], ["4", "1"], ["5", "1"]]
    assert tables["hours"][4][0] == "4"
    assert tables["hours"][4][1 + 23] == "1"
    operators = {row[0]: row for row in tables["operators"][1:]}
    assert operators["Olga"] == ["Olga", "3", "2", "660", "3", "4.00"]
    # The formula-like name is text in a spreadsheet.
    assert "'" + BORIS_NAME in operators
    assert BORIS_NAME not in operators


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+7 999", "'+7 999"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("Olga", "Olga"),
        (None, ""),
        (3.14159, "3.14"),
        (12, "12"),
    ],
)
def test_a_csv_cell_is_never_a_formula(value: object, cell: str) -> None:
    assert safe_cell(value) == cell
