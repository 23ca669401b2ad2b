"""Issue 11: sign-in protection without a lock-out switch, password hashing off the event
loop, and IPv6 /64 buckets (no servers: the in-memory state and a fake clock)."""

from __future__ import annotations

import asyncio
import base64
import json
import statistics
import time

import pytest
from altcha import solve_challenge_v1

from messenger.accounts.passwords import hash_password, verify_password, verify_password_off_loop
from messenger.client_ip import ip_bucket
from messenger.config import Settings
from messenger.dashboard.signin import SignInGuard
from messenger.state import MemoryState
from messenger.widget.challenge import Challenges
from tests.support.clock import FakeClock

SECRET = "s" * 32
EMAIL = "anna@example.com"


def guard(clock: FakeClock, **env: str) -> SignInGuard:
    settings = Settings.from_env({"MESSENGER_SECRET_KEY": SECRET, **env})
    state = MemoryState(clock)
    return SignInGuard(state, Challenges(state, SECRET, 1000), settings)


def solve(challenge: dict) -> str:
    found = solve_challenge_v1(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxnumber"]
    )
    assert found is not None
    return base64.b64encode(
        json.dumps({**challenge, "number": found.number, "maxnumber": None}).encode()
    ).decode()


def test_ip_bucket_groups_ipv6_by_64_and_keeps_ipv4():
    assert ip_bucket("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert ip_bucket("2001:db8:1:2:ffff::1") == ip_bucket("2001:db8:1:2::9")
    assert ip_bucket("2001:db8:1:3::1") != ip_bucket("2001:db8:1:2::1")
    assert ip_bucket("2001:db8:1:2::1", v6_prefix=128) == "2001:db8:1:2::1/128"
    assert ip_bucket("2001:db8:1:2::1", v6_prefix=48) == "2001:db8:1::/48"
    assert ip_bucket("203.0.113.7") == "203.0.113.7"
    assert ip_bucket("::ffff:203.0.113.7") == "203.0.113.7"
    assert ip_bucket("testclient") == "testclient"


async def test_delays_grow_per_account_and_address_and_spare_other_addresses():
    clock = FakeClock()
    g = guard(clock)
    for _ in range(4):
        assert (await g.before(EMAIL, "203.0.113.1", None)).allowed
        assert await g.failed(EMAIL, "203.0.113.1") == 0
    delays = []
    for _ in range(4):
        assert (await g.before(EMAIL, "203.0.113.1", None)).allowed
        delays.append(await g.failed(EMAIL, "203.0.113.1"))
        waiting = await g.before(EMAIL, "203.0.113.1", None)
        assert 0 < waiting.wait_ms <= delays[-1]
        clock.advance(delays[-1] / 1000)
    assert delays == [1000, 2000, 4000, 8000]
    # The owner elsewhere, and the same address on another account, do not wait.
    assert (await g.before(EMAIL, "198.51.100.5", None)).allowed
    assert (await g.before("ada@example.com", "203.0.113.1", None)).allowed


async def test_the_delay_is_capped_and_a_window_later_forgotten():
    clock = FakeClock()
    g = guard(
        clock, MESSENGER_SIGNIN_MAX_DELAY_SECONDS="10", MESSENGER_SIGNIN_CHALLENGE_AFTER="1000"
    )
    for _ in range(30):
        await g.failed(EMAIL, "203.0.113.1")
    assert await g.failed(EMAIL, "203.0.113.1") == 10_000
    clock.advance(901)
    assert (await g.before(EMAIL, "203.0.113.1", None)).allowed
    assert await g.failed(EMAIL, "203.0.113.1") == 0


async def test_a_64_cannot_rotate_past_the_delay():
    clock = FakeClock()
    g = guard(clock)
    for i in range(5):
        await g.failed(EMAIL, f"2001:db8:0:1::{i + 1}")
    assert (await g.before(EMAIL, "2001:db8:0:1:abcd::1", None)).wait_ms > 0
    assert (await g.before(EMAIL, "2001:db8:0:2::1", None)).allowed


async def test_a_distributed_guesser_makes_the_account_ask_for_work_never_refuse():
    clock = FakeClock()
    g = guard(clock, MESSENGER_SIGNIN_CHALLENGE_AFTER="20")
    for i in range(20):
        address = f"198.51.100.{i}"
        assert (await g.before(EMAIL, address, None)).allowed
        await g.failed(EMAIL, address)
    verdict = await g.before(EMAIL, "203.0.113.200", None)  # the owner, from home
    assert verdict.wait_ms == 0
    assert verdict.challenge is not None
    solution = solve(verdict.challenge)
    assert (await g.before(EMAIL, "203.0.113.200", solution)).allowed
    # The same solution again is not enough.
    assert (await g.before(EMAIL, "203.0.113.200", solution)).challenge is not None
    assert (await g.before(EMAIL, "203.0.113.200", "garbage")).challenge is not None


async def test_password_hashing_leaves_the_event_loop_free():
    """Four verifications at once: the loop keeps ticking (argon2 runs in the pool)."""
    stored = hash_password("correct horse battery")
    started = time.perf_counter()
    verify_password(stored, "wrong")
    one = time.perf_counter() - started
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    results = await asyncio.gather(
        *(verify_password_off_loop(stored, "wrong") for _ in range(3)),
        verify_password_off_loop(stored, "correct horse battery"),
    )
    ticker.cancel()
    assert results == [False, False, False, True]
    assert len(gaps) >= 5, gaps
    # On the loop, four hashes would stall it for ~4 x one; off it, no gap comes near one.
    assert max(gaps) < max(one * 0.75, 0.02), (max(gaps), one)


def test_an_unknown_account_costs_a_real_verification():
    stored = hash_password("correct horse battery")

    def timed(password_hash: str | None) -> float:
        # CPU time of this process, not wall time: other work on a shared machine cannot
        # make one side look slower (the work itself is what must be equal).
        runs = []
        for _ in range(5):
            started = time.process_time()
            assert not verify_password(password_hash, "wrong")
            runs.append(time.process_time() - started)
        return statistics.median(runs)

    known, unknown = timed(stored), timed(None)
    assert 0.5 < unknown / known < 2.0, (known, unknown)


@pytest.mark.parametrize("bad", ["", "x" * 3000, "bm90IGpzb24=", base64.b64encode(b"[]").decode()])
async def test_a_malformed_solution_is_just_not_a_solution(bad: str):
    clock = FakeClock()
    g = guard(clock, MESSENGER_SIGNIN_CHALLENGE_AFTER="0")
    verdict = await g.before(EMAIL, "203.0.113.1", bad)
    assert verdict.challenge is not None
