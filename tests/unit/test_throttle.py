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
        await limits.bootstrap("203.0.113.1")
    error = await refused(limits.bootstrap("203.0.113.1"))
    assert error.status_code == 429
    assert error.extra == {"retry_after": 2, "limit": "bootstrap_per_ip"}
    await limits.bootstrap("203.0.113.2")  # another address has its own budget

    clock.advance(1.5)
    assert (await refused(limits.bootstrap("203.0.113.1"))).retry_after == 1
    clock.advance(0.5)
    await limits.bootstrap("203.0.113.1")


async def test_bootstrap_per_token_only_says_when_new_sessions_are_past_it(
    clock: FakeClock,
) -> None:
    """The per-inbox bucket refuses nothing: past it, new sessions get the challenge."""
    limits = throttle(clock, MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN="3/2s")
    assert [(await limits.new_session("ip", 1))[1] for _ in range(4)] == [
        False,
        False,
        False,
        True,
    ]
    assert not (await limits.new_session("ip", 2))[1]  # another inbox
    clock.advance(2)
    assert not (await limits.new_session("ip", 1))[1]


@pytest.mark.parametrize(
    ("variable", "limit", "call"),
    [
        ("MESSENGER_WIDGET_TYPING_RATE_PER_SESSION", "typing_per_session", "typing"),
        ("MESSENGER_WIDGET_READ_RATE_PER_SESSION", "read_per_session", "read"),
        ("MESSENGER_WIDGET_TICKET_RATE_PER_SESSION", "ticket_per_session", "ticket"),
        ("MESSENGER_WIDGET_TRANSCRIPT_RATE_PER_SESSION", "transcript_per_session", "transcript"),
    ],
)
async def test_each_per_session_limit_refuses_past_its_value(
    clock: FakeClock, variable: str, limit: str, call: str
) -> None:
    limits = throttle(clock, **{variable: "2/10s"})
    for _ in range(2):
        await getattr(limits, call)("s")
    error = await refused(getattr(limits, call)("s"))
    assert error.extra == {"retry_after": 10, "limit": limit}
    await getattr(limits, call)("other session")
    clock.advance(10)
    await getattr(limits, call)("s")


async def test_upload_per_session_then_per_ip_and_download_per_ip(clock: FakeClock) -> None:
    limits = throttle(
        clock,
        MESSENGER_WIDGET_UPLOAD_RATE_PER_SESSION="1/minute",
        MESSENGER_WIDGET_UPLOAD_RATE_PER_IP="2/minute",
        MESSENGER_WIDGET_DOWNLOAD_RATE_PER_IP="2/minute",
    )
    await limits.upload("ip", "a")
    assert (await refused(limits.upload("ip", "a"))).extra["limit"] == "upload_per_session"
    await limits.upload("ip", "b")
    assert (await refused(limits.upload("ip", "c"))).extra["limit"] == "upload_per_ip"
    await limits.download("ip")
    await limits.download("ip")
    assert (await refused(limits.download("ip"))).extra["limit"] == "download_per_ip"
    await limits.download("another ip")


async def test_ipv6_clients_are_counted_by_their_network(clock: FakeClock) -> None:
    limits = throttle(clock, MESSENGER_WIDGET_SEND_RATE_PER_IP="2/minute")
    await limits.send("2001:db8:1:2::1", "a")
    await limits.send("2001:db8:1:2:ffff::9", "b")  # the same /64
    error = await refused(limits.send("2001:db8:1:2:abcd::7", "c"))
    assert error.extra["limit"] == "send_per_ip"
    await limits.send("2001:db8:1:3::1", "d")  # the next /64: its own budget
    wide = throttle(clock, MESSENGER_WIDGET_SEND_RATE_PER_IP="1/minute", MESSENGER_IPV6_PREFIX="48")
    await wide.send("2001:db8:5:1::1", "a")
    assert (await refused(wide.send("2001:db8:5:2::1", "b"))).extra["limit"] == "send_per_ip"


async def test_open_streams_are_capped_per_session_and_per_ip_and_expire_unrenewed(
    clock: FakeClock,
) -> None:
    limits = throttle(
        clock,
        MESSENGER_WIDGET_STREAMS_PER_SESSION="2",
        MESSENGER_WIDGET_STREAMS_PER_IP="3",
        MESSENGER_STREAM_HEARTBEAT_SECONDS="15",
    )
    await limits.open_stream("ip", "s", "one")
    await limits.open_stream("ip", "s", "two")
    error = await refused(limits.open_stream("ip", "s", "three"))
    assert error.extra == {"retry_after": 45, "limit": "streams_per_session"}
    await limits.open_stream("ip", "t", "four")
    assert (await refused(limits.open_stream("ip", "u", "five"))).extra["limit"] == "streams_per_ip"
    await limits.close_stream("ip", "s", "one")
    await limits.open_stream("ip", "s", "three")  # a closed stream frees its place
    # A stream whose process died is never renewed: it stops counting after the lease.
    clock.advance(40)
    await limits.renew_stream("ip", "s", "three")
    clock.advance(10)
    await limits.open_stream("ip", "s", "six")  # "two" expired, "three" was renewed
    assert (await refused(limits.open_stream("ip", "s", "seven"))).extra[
        "limit"
    ] == "streams_per_session"


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
    assert [(await limits.new_session("ip", 1))[0] for _ in range(3)] == [1, 2, 3]
    assert await limits.count_offline_form("ip") == 1  # its own counter
    assert (await limits.new_session("other", 1))[0] == 1
    assert (await limits.new_session("2001:db8::1", 1))[0] == 1
    assert (await limits.new_session("2001:db8::2", 2))[0] == 2  # one /64, one counter
    clock.advance(60)
    assert (await limits.new_session("ip", 1))[0] == 1


def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one() -> None:
    assert ThrottledError(1, "x").retry_after == 1
    assert ThrottledError(1000, "x").retry_after == 1
    assert ThrottledError(1001, "x").retry_after == 2
    assert ThrottledError(0, "x").retry_after == 1
