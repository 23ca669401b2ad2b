"""The shared-state contract on the in-memory backend, with a fake clock (no waiting)."""

from __future__ import annotations

import pytest

from messenger.state import MemoryState
from tests.support.clock import FakeClock
from tests.support.state_contract import LetExpire, StateContract


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> MemoryState:
    return MemoryState(clock=clock)


@pytest.fixture
def let_expire(clock: FakeClock) -> LetExpire:
    async def expire(key: str, ttl_ms: int) -> None:
        clock.advance(ttl_ms / 1000)  # an entry lives while its expiry is in the future

    return expire


class TestMemoryState(StateContract):
    pass


async def test_an_entry_lives_until_its_expiry_and_not_a_moment_longer(
    state: MemoryState, clock: FakeClock
) -> None:
    await state.put("v", b"x", 1000)
    assert await state.claim("c", 1000) == 0
    clock.advance(0.999)
    assert await state.claim("c", 1000) == 1  # one millisecond left
    assert await state.take("v") == b"x"
    await state.put("v", b"x", 1000)
    clock.advance(1.0)
    assert await state.take("v") is None


async def test_the_remaining_time_follows_the_clock(state: MemoryState, clock: FakeClock) -> None:
    assert await state.hit("w", 2000) == (1, 2000)
    clock.advance(1.5)
    assert await state.hit("w", 2000) == (2, 500)
    assert await state.claim("c", 2000) == 0
    clock.advance(0.25)
    assert await state.claim("c", 2000) == 1750


async def test_expired_entries_are_swept_when_the_store_grows(
    state: MemoryState, clock: FakeClock
) -> None:
    for n in range(100_001):
        await state.put(f"k{n}", b"x", 1000)
    clock.advance(2)
    await state.put("fresh", b"y", 1000)
    assert await state.take("missing") is None  # a lookup over the bound sweeps what expired
    assert list(state._values) == ["fresh"]
