"""The offline decision (working hours, presence) and the privacy notice override."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from messenger.inboxes.settings import InboxSettings, parse_settings
from messenger.presence import MemoryPresence

MOSCOW = 1


OFFLINE = "We are away, leave a message"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def schedule(timezone: str, **week: list[tuple[str, str]]) -> InboxSettings:
    return parse_settings(
        {
            "working_hours": {
                "timezone": timezone,
                "week": {
                    day: [{"start": s, "end": e} for s, e in intervals]
                    for day, intervals in week.items()
                },
            },
            "offline": {"message": OFFLINE},
        }
    )


# 2024-01-01 is a Monday; Moscow is UTC+3 all year round.
WEEKDAY_9_TO_18 = {day: [("09:00", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")}


# --- working hours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timezone", "moment", "open_"),
    [
        ("Europe/Moscow", utc(2024, 1, 1, 5, 59), False),  # 08:59 MSK
        ("Europe/Moscow", utc(2024, 1, 1, 6, 0), True),  # 09:00 MSK: the start is inclusive
        ("Europe/Moscow", utc(2024, 1, 1, 14, 59, 59), True),  # 17:59:59 MSK
        ("Europe/Moscow", utc(2024, 1, 1, 15, 0), False),  # 18:00 MSK: the end is exclusive
        ("UTC", utc(2024, 1, 1, 6, 0), False),  # the same instant is 06:00 in UTC
        ("UTC", utc(2024, 1, 1, 9, 0), True),
        ("UTC", utc(2024, 1, 1, 17, 30), True),  # 20:30 in Moscow, still 17:30 in UTC
        ("Europe/Moscow", utc(2024, 1, 1, 17, 30), False),
        # Friday 17:00 MSK is open, Saturday (a day off) at the same time is not.
        ("Europe/Moscow", utc(2024, 1, 5, 14, 0), True),
        ("Europe/Moscow", utc(2024, 1, 6, 14, 0), False),
        ("Europe/Moscow", utc(2024, 1, 7, 14, 0), False),
        # A moment in another offset is converted, not read as local time:
        # 08:00 at UTC-5 is 16:00 in Moscow.
        ("Europe/Moscow", datetime(2024, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=-5))), True),
    ],
)
def test_weekday_schedule_in_a_time_zone(timezone: str, moment: datetime, open_: bool):
    settings = schedule(timezone, **WEEKDAY_9_TO_18)
    assert settings.working_hours is not None
    assert settings.working_hours.is_open_at(moment) is open_


def test_the_weekday_is_taken_in_the_inbox_time_zone():
    """Sunday 21:30 UTC is already Monday 00:30 in Moscow."""
    sunday_night_utc = utc(2023, 12, 31, 21, 30)
    monday_only = {"mon": [("00:00", "24:00")]}
    moscow = schedule("Europe/Moscow", **monday_only).working_hours
    london = schedule("UTC", **monday_only).working_hours
    assert moscow is not None
    assert london is not None
    assert moscow.is_open_at(sunday_night_utc) is True
    assert london.is_open_at(sunday_night_utc) is False
    # And Monday 21:30 UTC is Tuesday in Moscow: closed there, open in UTC.
    assert moscow.is_open_at(utc(2024, 1, 1, 21, 30)) is False
    assert london.is_open_at(utc(2024, 1, 1, 21, 30)) is True


def test_end_24_00_runs_to_midnight():
    hours = schedule("Europe/Moscow", mon=[("18:00", "24:00")]).working_hours
    assert hours is not None
    assert hours.is_open_at(utc(2024, 1, 1, 14, 59, 59)) is False  # 17:59:59 MSK
    assert hours.is_open_at(utc(2024, 1, 1, 15, 0)) is True  # 18:00
    assert hours.is_open_at(utc(2024, 1, 1, 20, 59, 59, 999999)) is True  # 23:59:59.999999
    assert hours.is_open_at(utc(2024, 1, 1, 21, 0)) is False  # Tuesday 00:00, a day off


def test_several_intervals_a_day():
    hours = schedule("Europe/Moscow", mon=[("09:00", "13:00"), ("14:00", "18:00")]).working_hours
    assert hours is not None
    assert hours.is_open_at(utc(2024, 1, 1, 9, 59)) is True  # 12:59
    assert hours.is_open_at(utc(2024, 1, 1, 10, 30)) is False  # 13:30, lunch
    assert hours.is_open_at(utc(2024, 1, 1, 11, 0)) is True  # 14:00


def test_daylight_saving_time_is_followed():
    """Berlin is UTC+1 in winter and UTC+2 in summer: 08:30 UTC is 09:30 vs 10:30 local."""
    hours = schedule("Europe/Berlin", mon=[("10:00", "18:00")]).working_hours
    assert hours is not None
    assert hours.is_open_at(utc(2024, 1, 1, 8, 30)) is False  # winter Monday, 09:30 CET
    assert hours.is_open_at(utc(2024, 7, 1, 8, 30)) is True  # summer Monday, 10:30 CEST


def test_an_empty_week_is_always_closed_and_no_schedule_is_always_open():
    closed = schedule("UTC").working_hours
    assert closed is not None
    assert not any(closed.is_open_at(utc(2024, 1, 1) + timedelta(hours=h)) for h in range(24 * 7))
    assert parse_settings({}).working_hours is None


async def test_memory_presence_instances_are_separate():
    a, b = MemoryPresence(), MemoryPresence()
    await a.touch(7, [MOSCOW])
    assert await a.online_user_ids(MOSCOW) == {7}
    assert await b.online_user_ids(MOSCOW) == set()
