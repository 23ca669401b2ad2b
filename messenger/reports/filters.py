"""What a report covers: a period of whole days in the reader's time zone and the filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from messenger.errors import InvalidInputError
from messenger.i18n import N_

#: The longest period one report covers (a year and a day: leap years).
MAX_DAYS = 366
#: The period shown when none is asked for: the last seven days, today included.
DEFAULT_DAYS = 7


@dataclass(frozen=True, slots=True)
class ReportFilters:
    """A period ``date_from``..``date_to`` (both included) in ``timezone``, and filters."""

    date_from: date
    date_to: date
    timezone: str = "UTC"
    inbox_id: int | None = None
    branch_id: int | None = None
    operator_id: int | None = None
    label_id: int | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def start(self) -> datetime:
        """The first instant of the period (midnight of ``date_from`` there)."""
        return datetime.combine(self.date_from, time(0), tzinfo=self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The instant after the period (midnight after ``date_to`` there)."""
        after = self.date_to + timedelta(days=1)
        return datetime.combine(after, time(0), tzinfo=self.zone).astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1


def parse_filters(
    *,
    date_from: str | None,
    date_to: str | None,
    timezone: str,
    today: date,
    inbox_id: int | None = None,
    branch_id: int | None = None,
    operator_id: int | None = None,
    label_id: int | None = None,
) -> ReportFilters:
    """Filters from a page's query: bad dates or a too long period are a clear 400."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        timezone = "UTC"
    try:
        end = date.fromisoformat(date_to) if date_to else today
        start = date.fromisoformat(date_from) if date_from else end - timedelta(DEFAULT_DAYS - 1)
    except ValueError as exc:
        raise InvalidInputError(N_("Dates are written as YYYY-MM-DD.")) from exc
    if start > end:
        raise InvalidInputError(N_("The period starts after it ends."))
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInputError(
            N_("A report covers at most %(days)s days."), params={"days": MAX_DAYS}
        )
    return ReportFilters(
        date_from=start,
        date_to=end,
        timezone=timezone,
        inbox_id=inbox_id,
        branch_id=branch_id,
        operator_id=operator_id,
        label_id=label_id,
    )
