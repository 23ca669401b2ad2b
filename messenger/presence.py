"""Operator presence: who has the dashboard open, per branch, shared by all processes.

Each open dashboard refreshes its operator's entry every few seconds; an entry not refreshed
within its TTL has gone away. In Redis a branch is one sorted set (member: user id, score:
expiry time), so "who is online in branch B" is one trim plus one count, atomic in a
pipeline. The in-memory variant serves the single-process embedded mode.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol

from redis.asyncio import Redis

DEFAULT_TTL_SECONDS = 45.0


class Presence(Protocol):
    async def touch(
        self, user_id: int, branch_ids: Iterable[int], ttl: float = DEFAULT_TTL_SECONDS
    ) -> None: ...

    async def leave(self, user_id: int, branch_ids: Iterable[int]) -> None: ...

    async def online_user_ids(self, branch_id: int) -> set[int]: ...


class RedisPresence:
    def __init__(self, redis: Redis, prefix: str = "messenger:presence") -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, branch_id: int) -> str:
        return f"{self._prefix}:branch:{branch_id}"

    async def touch(
        self, user_id: int, branch_ids: Iterable[int], ttl: float = DEFAULT_TTL_SECONDS
    ) -> None:
        expires = time.time() + ttl
        async with self._redis.pipeline(transaction=True) as pipe:
            for branch_id in branch_ids:
                key = self._key(branch_id)
                pipe.zadd(key, {str(user_id): expires})
                pipe.expire(key, int(ttl) + 60)
            await pipe.execute()

    async def leave(self, user_id: int, branch_ids: Iterable[int]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for branch_id in branch_ids:
                pipe.zrem(self._key(branch_id), str(user_id))
            await pipe.execute()

    async def online_user_ids(self, branch_id: int) -> set[int]:
        key = self._key(branch_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", time.time())
            pipe.zrange(key, 0, -1)
            _, members = await pipe.execute()
        return {int(m) for m in members}


class MemoryPresence:
    """Single-process presence for the embedded mode."""

    def __init__(self) -> None:
        self._entries: dict[int, dict[int, float]] = {}

    async def touch(
        self, user_id: int, branch_ids: Iterable[int], ttl: float = DEFAULT_TTL_SECONDS
    ) -> None:
        expires = time.time() + ttl
        for branch_id in branch_ids:
            self._entries.setdefault(branch_id, {})[user_id] = expires

    async def leave(self, user_id: int, branch_ids: Iterable[int]) -> None:
        for branch_id in branch_ids:
            self._entries.get(branch_id, {}).pop(user_id, None)

    async def online_user_ids(self, branch_id: int) -> set[int]:
        now = time.time()
        users = self._entries.get(branch_id, {})
        for user_id in [u for u, expires in users.items() if expires <= now]:
            del users[user_id]
        return set(users)
