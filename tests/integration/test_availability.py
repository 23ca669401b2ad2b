"""The offline decision (working hours, presence) and the privacy notice override."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from redis.asyncio import Redis

from messenger import presence as presence_module
from messenger.config import Settings
from messenger.inboxes.availability import decide_availability
from messenger.inboxes.privacy import resolve_privacy
from messenger.inboxes.settings import InboxSettings, parse_settings
from messenger.presence import MemoryPresence, Presence, RedisPresence
from tests.support.clock import FakeClock
from tests.support.redis_process import pipe_like

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


# --- the availability decision ----------------------------------------------------------------


@pytest.fixture(params=["redis", "redis-piped", "memory"])
async def presence(
    request: pytest.FixtureRequest, redis: Redis, redis_prefix: str
) -> AsyncIterator[Presence]:
    if request.param == "redis":
        yield RedisPresence(redis, prefix=f"{redis_prefix}:presence")
    elif request.param == "redis-piped":  # online_user_ids on the hot path's connection
        pipe = pipe_like(redis)
        yield RedisPresence(redis, prefix=f"{redis_prefix}:presence", pipe=pipe)
        await pipe.aclose()
    else:
        yield MemoryPresence()


@pytest.fixture
def presence_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Wall-clock time of ``messenger.presence`` (both backends compute expiry scores from
    it), moved by the test instead of waited for."""
    clock = FakeClock(start=1_700_000_000.0)
    monkeypatch.setattr(presence_module, "time", SimpleNamespace(time=clock))
    return clock


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


async def test_presence_expires_without_a_refresh(presence: Presence, presence_clock: FakeClock):
    await presence.touch(7, [MOSCOW], ttl=0.2)
    await presence.touch(8, [MOSCOW], ttl=30)
    await presence.touch(9, [KAZAN], ttl=0.2)
    assert await presence.online_user_ids(MOSCOW) == {7, 8}
    assert (await decide_availability(ALWAYS_OPEN, KAZAN, presence, MONDAY_NOON_MSK)).online
    presence_clock.advance(0.35)
    assert await presence.online_user_ids(MOSCOW) == {8}
    result = await decide_availability(ALWAYS_OPEN, KAZAN, presence, MONDAY_NOON_MSK)
    assert (result.online, result.reason) == (False, "nobody_online")


async def test_a_refresh_keeps_an_operator_online(presence: Presence, presence_clock: FakeClock):
    await presence.touch(7, [MOSCOW], ttl=0.2)
    presence_clock.advance(0.1)
    await presence.touch(7, [MOSCOW], ttl=0.4)
    presence_clock.advance(0.2)  # past the first touch's expiry, within the refresh
    assert await presence.online_user_ids(MOSCOW) == {7}
    presence_clock.advance(0.3)
    assert await presence.online_user_ids(MOSCOW) == set()


async def test_redis_presence_keeps_to_its_prefix_and_trims_expired_entries(
    redis: Redis, redis_prefix: str, presence_clock: FakeClock
):
    presence = RedisPresence(redis, prefix=f"{redis_prefix}:presence")
    await presence.touch(7, [MOSCOW], ttl=0.2)
    await presence.touch(8, [MOSCOW], ttl=30)
    keys = sorted([k.decode() async for k in redis.scan_iter(match=f"{redis_prefix}*")])
    branch_key, seen_key = (
        f"{redis_prefix}:presence:branch:{MOSCOW}",
        f"{redis_prefix}:presence:seen",
    )
    # The branch's set, and each user's "seen until" (auto-assignment's offline check).
    assert keys == [branch_key, seen_key]
    ttl = await redis.ttl(branch_key)
    assert 0 < ttl <= 30 + 60  # the whole set goes away when nobody refreshes it
    assert await redis.ttl(seen_key) > 0

    presence_clock.advance(0.35)
    assert await presence.online_user_ids(MOSCOW) == {8}
    assert await redis.zrange(branch_key, 0, -1) == [b"8"]  # the expired entry was removed


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
