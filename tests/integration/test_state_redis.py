"""The shared-state contract on the Redis backend (a real Redis, this test's key prefix).

Redis keeps its own clock, so ``let_expire`` waits for Redis to drop the key (polling
``EXISTS``), not for a fixed time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from messenger.state import RedisState
from tests.support.redis_process import pipe_like
from tests.support.state_contract import LetExpire, StateContract
from tests.support.waiting import eventually


@pytest.fixture(params=["pooled", "piped"])
async def state(
    request: pytest.FixtureRequest, redis: Redis, redis_prefix: str
) -> AsyncIterator[RedisState]:
    """The contract holds with the limits script on redis-py's pool and on the pipelined
    connection of the hot path (redis_pipe.py)."""
    if request.param == "pooled":
        yield RedisState(redis, f"{redis_prefix}:state")
        return
    pipe = pipe_like(redis)
    yield RedisState(redis, f"{redis_prefix}:state", pipe)
    await pipe.aclose()


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
