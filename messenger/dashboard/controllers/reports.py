"""Reports: the figures of a period for admins (every branch) and operators (their branches),
their tables as CSV. The rules and the SQL live in :mod:`messenger.reports`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Controller, MediaType, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter, SkipValidation
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db.models import User
from messenger.errors import DomainError
from messenger.reports.csv_tables import TABLES, report_csv
from messenger.reports.filters import ReportFilters, parse_filters
from messenger.reports.formatting import format_average, format_duration, weekday_names
from messenger.reports.options import filter_options
from messenger.reports.service import HOURS, WEEKDAYS, Report, build_report

CurrentUser = NamedDependency[User]
DB = NamedDependency[AsyncSession]
AppSettings = NamedDependency[SkipValidation[Settings]]
DateText = Annotated[str | None, QueryParameter(name="from", max_length=10)]
DateToText = Annotated[str | None, QueryParameter(name="to", max_length=10)]
Id = Annotated[int | None, QueryParameter(ge=1, le=2**62)]


def _supported(db: AsyncSession) -> bool:
    """The report is PostgreSQL SQL (percentile_cont, AT TIME ZONE, LATERAL): the embedded
    SQLite mode shows a page saying so rather than figures computed some other way."""
    return db.get_bind().dialect.name == "postgresql"


class ReportsController(Controller):
    path = "/reports"

    async def _report(
        self,
        db: AsyncSession,
        user: User,
        settings: Settings,
        raw: dict[str, Any],
    ) -> Report:
        timezone = user.timezone or "UTC"
        filters: ReportFilters = parse_filters(
            date_from=raw["from"],
            date_to=raw["to"],
            timezone=timezone,
            today=datetime.now(ZoneInfo(timezone)).date(),
            inbox_id=raw["inbox"],
            branch_id=raw["branch"],
            operator_id=raw["operator"],
            label_id=raw["label"],
        )
        return await build_report(
            db, user, filters, missed_after_minutes=settings.report_missed_after_minutes
        )

    @get("/", name="reports")
    async def page(
        self,
        db_session: DB,
        current_user: CurrentUser,
        settings: AppSettings,
        date_from: DateText = None,
        date_to: DateToText = None,
        inbox: Id = None,
        branch: Id = None,
        operator: Id = None,
        label: Id = None,
    ) -> Template:
        if not _supported(db_session):
            return Template("dashboard/reports_unavailable.html", context={"user": current_user})
        raw = {
            "from": date_from,
            "to": date_to,
            "inbox": inbox,
            "branch": branch,
            "operator": operator,
            "label": label,
        }
        options = await filter_options(db_session, current_user)
        error: str | None = None
        status_code = 200
        report: Report | None = None
        try:
            report = await self._report(db_session, current_user, settings, raw)
        except DomainError as exc:
            if exc.status_code == 404:
                raise NotFoundException() from exc
            error, status_code = exc.translated(), exc.status_code
        query = {k: v for k, v in raw.items() if v is not None}
        return Template(
            "dashboard/reports.html",
            context={
                "user": current_user,
                "report": report,
                "error": error,
                "options": options,
                "selected": raw,
                "query": query,
                "weekdays": WEEKDAYS,
                "hours": HOURS,
                "tables": list(TABLES),
                "duration": format_duration,
                "average": format_average,
                "weekday_names": weekday_names(),
            },
            status_code=status_code,
        )

    @get("/csv/{table:str}", name="reports_csv")
    async def csv(
        self,
        db_session: DB,
        current_user: CurrentUser,
        settings: AppSettings,
        table: FromPath[str],
        date_from: DateText = None,
        date_to: DateToText = None,
        inbox: Id = None,
        branch: Id = None,
        operator: Id = None,
        label: Id = None,
    ) -> Response[str]:
        if table not in TABLES or not _supported(db_session):
            raise NotFoundException()
        raw = {
            "from": date_from,
            "to": date_to,
            "inbox": inbox,
            "branch": branch,
            "operator": operator,
            "label": label,
        }
        try:
            report = await self._report(db_session, current_user, settings, raw)
        except DomainError as exc:
            if exc.status_code == 404:
                raise NotFoundException() from exc
            return Response(
                exc.translated(), media_type=MediaType.TEXT, status_code=exc.status_code
            )
        f = report.filters
        name = f"messenger-{table}-{f.date_from.isoformat()}-{f.date_to.isoformat()}.csv"
        return Response(
            report_csv(report, table),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )
