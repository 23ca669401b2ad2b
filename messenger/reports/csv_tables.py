"""Every table of the Reports page as CSV, safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return) is a formula to
Excel and LibreOffice: an operator named ``=HYPERLINK(...)`` would run on the reader's machine.
Such a cell gets a leading apostrophe (OWASP "CSV injection"), which spreadsheets show as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable

from messenger.i18n import gettext as _
from messenger.reports.service import HOURS, WEEKDAYS, Report

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """The text of one CSV cell, never read as a formula."""
    if value is None:
        return ""
    text = f"{value:.2f}" if isinstance(value, float) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


def _summary(report: Report) -> list[list[object]]:
    s = report.summary
    return [
        [_("Figure"), _("Value")],
        [_("Conversations started"), s.started],
        [_("Answered"), s.answered],
        [_("Missed"), s.missed],
        [_("Resolved"), s.resolved],
        [_("First response p50, seconds"), _seconds(s.frt_p50)],
        [_("First response p90, seconds"), _seconds(s.frt_p90)],
        [_("Resolution p50, seconds"), _seconds(s.rt_p50)],
        [_("Resolution p90, seconds"), _seconds(s.rt_p90)],
        [_("CSAT ratings"), report.csat_count],
        [_("CSAT average"), report.csat_average],
    ]


def _daily(report: Report) -> list[list[object]]:
    rows: list[list[object]] = [[_("Day"), _("Started"), _("Answered"), _("Missed")]]
    rows += [[d.day.isoformat(), d.started, d.answered, d.missed] for d in report.days]
    return rows


def _csat(report: Report) -> list[list[object]]:
    rows: list[list[object]] = [[_("Rating"), _("Ratings")]]
    rows += [[r, report.csat_distribution.get(r, 0)] for r in range(1, 6)]
    return rows


def _hours(report: Report) -> list[list[object]]:
    rows: list[list[object]] = [[_("Weekday (1 = Monday)"), *HOURS]]
    rows += [[wd, *(report.heat.get((wd, h), 0) for h in HOURS)] for wd in WEEKDAYS]
    return rows


def _operators(report: Report) -> list[list[object]]:
    rows: list[list[object]] = [
        [
            _("Operator"),
            _("Assigned"),
            _("Answered first"),
            _("Median first response, seconds"),
            _("CSAT ratings"),
            _("CSAT average"),
        ]
    ]
    rows += [
        [o.name, o.assigned, o.answered, _seconds(o.frt_p50), o.csat_count, o.csat_average]
        for o in report.operators
    ]
    return rows


TABLES: dict[str, Callable[[Report], list[list[object]]]] = {
    "summary": _summary,
    "daily": _daily,
    "csat": _csat,
    "hours": _hours,
    "operators": _operators,
}


def to_csv(rows: Iterable[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def report_csv(report: Report, table: str) -> str:
    """One table as CSV (``table`` is a key of :data:`TABLES`)."""
    return to_csv(TABLES[table](report))
