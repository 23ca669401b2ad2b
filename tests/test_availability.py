"""The offline decision (working hours, presence) and the privacy notice override."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from redis.asyncio import Redis

from messenger.config import Settings
from messenger.inboxes.availability import decide_availability
from messenger.inboxes.privacy import resolve_privacy
from messenger.inboxes.settings import InboxSettings, parse_settings
from messenger.presence import MemoryPresence, Presence, RedisPresence

MOSCOW = 1
KAZAN = 2
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


# --- the availability decision ----------------------------------------------------------------


@pytest.fixture(params=["redis", "memory"])
async def presence(
    request: pytest.FixtureRequest, redis: Redis, redis_prefix: str
) -> AsyncIterator[Presence]:
    if request.param == "redis":
        yield RedisPresence(redis, prefix=f"{redis_prefix}:presence")
    else:
        yield MemoryPresence()


ALWAYS_OPEN = parse_settings({"offline": {"message": OFFLINE}})
OFFICE = schedule("Europe/Moscow", **WEEKDAY_9_TO_18)
MONDAY_NOON_MSK = utc(2024, 1, 1, 9, 0)
MONDAY_NIGHT_MSK = utc(2024, 1, 1, 20, 0)


async def test_nobody_online_is_offline(presence: Presence):
    result = await decide_availability(ALWAYS_OPEN, MOSCOW, presence, MONDAY_NOON_MSK)
    assert (result.online, result.reason, result.offline_message) == (
        False,
        "nobody_online",
        OFFLINE,
    )


async def test_an_operator_of_the_branch_online_is_online(presence: Presence):
    await presence.touch(7, [MOSCOW])
    result = await decide_availability(ALWAYS_OPEN, MOSCOW, presence, MONDAY_NOON_MSK)
    assert (result.online, result.reason, result.offline_message) == (True, "online", None)
    result = await decide_availability(OFFICE, MOSCOW, presence, MONDAY_NOON_MSK)
    assert result.online is True


async def test_an_operator_of_another_branch_does_not_count(presence: Presence):
    await presence.touch(7, [KAZAN])
    result = await decide_availability(ALWAYS_OPEN, MOSCOW, presence, MONDAY_NOON_MSK)
    assert (result.online, result.reason) == (False, "nobody_online")
    assert (await decide_availability(ALWAYS_OPEN, KAZAN, presence, MONDAY_NOON_MSK)).online


async def test_no_branch_means_nobody_online(presence: Presence):
    await presence.touch(7, [MOSCOW, KAZAN])
    result = await decide_availability(ALWAYS_OPEN, None, presence, MONDAY_NOON_MSK)
    assert (result.online, result.reason) == (False, "nobody_online")


async def test_outside_hours_is_offline_even_with_operators_online(presence: Presence):
    await presence.touch(7, [MOSCOW])
    result = await decide_availability(OFFICE, MOSCOW, presence, MONDAY_NIGHT_MSK)
    assert (result.online, result.reason, result.offline_message) == (
        False,
        "outside_hours",
        OFFLINE,
    )
    saturday = await decide_availability(OFFICE, MOSCOW, presence, utc(2024, 1, 6, 9, 0))
    assert saturday.reason == "outside_hours"


async def test_outside_hours_wins_over_nobody_online(presence: Presence):
    result = await decide_availability(OFFICE, MOSCOW, presence, MONDAY_NIGHT_MSK)
    assert result.reason == "outside_hours"
    inside = await decide_availability(OFFICE, MOSCOW, presence, MONDAY_NOON_MSK)
    assert inside.reason == "nobody_online"


async def test_no_offline_message_configured(presence: Presence):
    result = await decide_availability(parse_settings({}), MOSCOW, presence, MONDAY_NOON_MSK)
    assert (result.online, result.offline_message) == (False, None)


async def test_leaving_goes_offline(presence: Presence):
    await presence.touch(7, [MOSCOW, KAZAN])
    await presence.touch(8, [MOSCOW])
    assert await presence.online_user_ids(MOSCOW) == {7, 8}
    await presence.leave(7, [MOSCOW, KAZAN])
    assert await presence.online_user_ids(MOSCOW) == {8}
    assert await presence.online_user_ids(KAZAN) == set()
    await presence.leave(8, [MOSCOW])
    result = await decide_availability(ALWAYS_OPEN, MOSCOW, presence, MONDAY_NOON_MSK)
    assert result.reason == "nobody_online"


async def test_presence_expires_without_a_refresh(presence: Presence):
    await presence.touch(7, [MOSCOW], ttl=0.2)
    await presence.touch(8, [MOSCOW], ttl=30)
    await presence.touch(9, [KAZAN], ttl=0.2)
    assert await presence.online_user_ids(MOSCOW) == {7, 8}
    assert (await decide_availability(ALWAYS_OPEN, KAZAN, presence, MONDAY_NOON_MSK)).online
    await asyncio.sleep(0.35)
    assert await presence.online_user_ids(MOSCOW) == {8}
    result = await decide_availability(ALWAYS_OPEN, KAZAN, presence, MONDAY_NOON_MSK)
    assert (result.online, result.reason) == (False, "nobody_online")


async def test_a_refresh_keeps_an_operator_online(presence: Presence):
    await presence.touch(7, [MOSCOW], ttl=0.2)
    await asyncio.sleep(0.1)
    await presence.touch(7, [MOSCOW], ttl=0.4)
    await asyncio.sleep(0.2)
    assert await presence.online_user_ids(MOSCOW) == {7}
    await asyncio.sleep(0.3)
    assert await presence.online_user_ids(MOSCOW) == set()


async def test_redis_presence_keeps_to_its_prefix_and_trims_expired_entries(
    redis: Redis, redis_prefix: str
):
    presence = RedisPresence(redis, prefix=f"{redis_prefix}:presence")
    await presence.touch(7, [MOSCOW], ttl=0.2)
    await presence.touch(8, [MOSCOW], ttl=30)
    keys = sorted([k.decode() async for k in redis.scan_iter(match=f"{redis_prefix}*")])
    assert keys == [f"{redis_prefix}:presence:branch:{MOSCOW}"]
    ttl = await redis.ttl(keys[0])
    assert 0 < ttl <= 30 + 60  # the whole set goes away when nobody refreshes it

    await asyncio.sleep(0.35)
    assert await presence.online_user_ids(MOSCOW) == {8}
    assert await redis.zrange(keys[0], 0, -1) == [b"8"]  # the expired entry was removed


async def test_redis_presence_is_shared_between_processes_of_one_prefix(
    redis_url: str, redis_prefix: str
):
    """Two app processes (two clients) with one prefix see each other; another prefix does not."""
    first = Redis.from_url(redis_url)
    second = Redis.from_url(redis_url)
    try:
        a = RedisPresence(first, prefix=f"{redis_prefix}:presence")
        b = RedisPresence(second, prefix=f"{redis_prefix}:presence")
        stranger = RedisPresence(second, prefix=f"{redis_prefix}-other:presence")
        await a.touch(7, [MOSCOW])
        assert await b.online_user_ids(MOSCOW) == {7}
        assert (await decide_availability(ALWAYS_OPEN, MOSCOW, b, MONDAY_NOON_MSK)).online
        assert await stranger.online_user_ids(MOSCOW) == set()
        await b.leave(7, [MOSCOW])
        assert await a.online_user_ids(MOSCOW) == set()
    finally:
        keys = [k async for k in first.scan_iter(match=f"{redis_prefix}*")]
        if keys:
            await first.delete(*keys)
        await first.aclose()
        await second.aclose()


async def test_memory_presence_instances_are_separate():
    a, b = MemoryPresence(), MemoryPresence()
    await a.touch(7, [MOSCOW])
    assert await a.online_user_ids(MOSCOW) == {7}
    assert await b.online_user_ids(MOSCOW) == set()


# --- privacy notice -------------------------------------------------------------------------

DEFAULT_URL = "https://crm.example/privacy"
DEFAULT_TEXT = "We keep your messages to answer them."


@pytest.fixture
def privacy_settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(
        {**env, "MESSENGER_PRIVACY_URL": DEFAULT_URL, "MESSENGER_PRIVACY_TEXT": DEFAULT_TEXT}
    )


@pytest.mark.parametrize(
    ("override", "expected_url", "expected_text"),
    [
        ({}, DEFAULT_URL, DEFAULT_TEXT),
        ({"url": None, "text": None}, DEFAULT_URL, DEFAULT_TEXT),
        ({"url": "https://shop.example/privacy"}, "https://shop.example/privacy", DEFAULT_TEXT),
        ({"text": "Shop's own notice."}, DEFAULT_URL, "Shop's own notice."),
        (
            {"url": "https://shop.example/privacy", "text": "Shop's own notice."},
            "https://shop.example/privacy",
            "Shop's own notice.",
        ),
    ],
)
def test_inbox_privacy_overrides_the_defaults_field_by_field(
    privacy_settings: Settings, override: dict[str, Any], expected_url: str, expected_text: str
):
    assert privacy_settings.privacy_url == DEFAULT_URL
    inbox_settings = parse_settings({"privacy": override})
    privacy = resolve_privacy(inbox_settings, privacy_settings)
    assert (privacy.url, privacy.text) == (expected_url, expected_text)


def test_privacy_without_defaults_uses_only_the_inbox(settings: Settings):
    assert (settings.privacy_url, settings.privacy_text) == ("", "")
    assert resolve_privacy(parse_settings({}), settings).url == ""
    privacy = resolve_privacy(parse_settings({"privacy": {"text": "Inbox notice"}}), settings)
    assert (privacy.url, privacy.text) == ("", "Inbox notice")
