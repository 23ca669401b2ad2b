"""The shared-state contract on the Redis backend (a real Redis, this test's key prefix).

Redis keeps its own clock, so ``let_expire`` waits for Redis to drop the key (polling
``EXISTS``), not for a fixed time.
"""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from messenger.state import RedisState
from tests.support.state_contract import LetExpire, StateContract
from tests.support.waiting import eventually


@pytest.fixture
def state(redis: Redis, redis_prefix: str) -> RedisState:
    return RedisState(redis, f"{redis_prefix}:state")


@pytest.fixture
def let_expire(redis: Redis, redis_prefix: str) -> LetExpire:
    async def expire(key: str, ttl_ms: int) -> None:
        async def gone() -> bool:
            return not await redis.exists(f"{redis_prefix}:state:{key}")

        await eventually(gone, within=ttl_ms / 1000 + 5, interval=0.02)

    return expire


class TestRedisState(StateContract):
    pass


async def test_keys_stay_under_the_prefix_and_carry_their_ttl(
    state: RedisState, redis: Redis, redis_prefix: str
) -> None:
    await state.hit("w", 60_000)
    await state.claim("c", 60_000)
    await state.put("v", b"x", 60_000)
    keys = sorted([k.decode() async for k in redis.scan_iter(match=f"{redis_prefix}*")])
    assert keys == [f"{redis_prefix}:state:{name}" for name in ("c", "v", "w")]
    for key in keys:
        assert 0 < await redis.pttl(key) <= 60_000
