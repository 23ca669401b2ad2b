"""The widget limits (``messenger/widget/throttle.py``) over the in-memory state with a fake
clock: every window, its reset and its Retry-After, without waiting for real time.

The live tests (``tests/live/test_widget_security_features.py``) check the same limits
shared by two processes through Redis.
"""

from __future__ import annotations

import pytest

from messenger.config import Settings
from messenger.state import MemoryState
from messenger.widget.throttle import Throttle, ThrottledError
from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def throttle(clock: FakeClock, **env: str) -> Throttle:
    return Throttle(MemoryState(clock=clock), Settings.from_env(env))


async def refused(call: object) -> ThrottledError:
    with pytest.raises(ThrottledError) as excinfo:
        await call  # type: ignore[misc]
    return excinfo.value


async def test_bootstrap_per_ip_refuses_the_fourth_and_resets_with_the_window(
    clock: FakeClock,
) -> None:
    limits = throttle(clock, MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP="3/2s")
    for _ in range(3):
        await limits.bootstrap("203.0.113.1", inbox_id=1)
    error = await refused(limits.bootstrap("203.0.113.1", inbox_id=1))
    assert error.status_code == 429
    assert error.extra == {"retry_after": 2, "limit": "bootstrap_per_ip"}
    await limits.bootstrap("203.0.113.2", inbox_id=1)  # another address has its own budget

    clock.advance(1.5)
    assert (await refused(limits.bootstrap("203.0.113.1", inbox_id=1))).retry_after == 1
    clock.advance(0.5)
    await limits.bootstrap("203.0.113.1", inbox_id=1)


async def test_bootstrap_per_token_counts_the_inbox_whatever_the_address(
    clock: FakeClock,
) -> None:
    limits = throttle(clock, MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN="3/2s")
    for n in range(3):
        await limits.bootstrap(f"203.0.113.{n}", inbox_id=1)
    error = await refused(limits.bootstrap("203.0.113.9", inbox_id=1))
    assert error.extra["limit"] == "bootstrap_per_token"
    await limits.bootstrap("203.0.113.9", inbox_id=2)  # another inbox
    clock.advance(2)
    await limits.bootstrap("203.0.113.9", inbox_id=1)


async def test_send_per_session_then_per_ip(clock: FakeClock) -> None:
    limits = throttle(
        clock,
        MESSENGER_WIDGET_SEND_RATE_PER_SESSION="2/10s",
        MESSENGER_WIDGET_SEND_RATE_PER_IP="3/10s",
    )
    await limits.send("ip", "session-a")
    await limits.send("ip", "session-a")
    assert (await refused(limits.send("ip", "session-a"))).extra["limit"] == "send_per_session"
    # The refused call was counted on the session only: the address has one send left.
    await limits.send("ip", "session-b")
    assert (await refused(limits.send("ip", "session-c"))).extra["limit"] == "send_per_ip"
    clock.advance(10)
    await limits.send("ip", "session-a")


async def test_poll_keeps_a_minimum_gap_and_a_window_per_session(clock: FakeClock) -> None:
    limits = throttle(
        clock,
        MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS="1.5",
        MESSENGER_WIDGET_POLL_RATE_PER_SESSION="3/60s",
    )
    await limits.poll("s")
    gap = await refused(limits.poll("s"))
    assert gap.extra == {"retry_after": 2, "limit": "poll_min_interval"}
    await limits.poll("other")  # the gap is per session
    clock.advance(1.5)
    await limits.poll("s")
    clock.advance(1.5)
    await limits.poll("s")
    clock.advance(1.5)
    window = await refused(limits.poll("s"))
    assert window.extra["limit"] == "poll_per_session"
    assert window.retry_after == 56  # 60 s window opened 4.5 s ago, rounded up
    clock.advance(56)
    await limits.poll("s")


async def test_suspicion_counters_count_per_address_within_the_bootstrap_window(
    clock: FakeClock,
) -> None:
    limits = throttle(clock, MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP="30/minute")
    assert [await limits.count_new_session("ip") for _ in range(3)] == [1, 2, 3]
    assert await limits.count_offline_form("ip") == 1  # its own counter
    assert await limits.count_new_session("other") == 1
    clock.advance(60)
    assert await limits.count_new_session("ip") == 1


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    assert ThrottledError(1, "x").retry_after == 1
    assert ThrottledError(1000, "x").retry_after == 1
    assert ThrottledError(1001, "x").retry_after == 2
    assert ThrottledError(0, "x").retry_after == 1
