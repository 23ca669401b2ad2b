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

from messenger.redis_pipe import RedisPipe

DEFAULT_TTL_SECONDS = 45.0
#: How long the "seen until" of a user is kept after their last refresh.
SEEN_TTL_SECONDS = 24 * 3600


def _member(user_id: int, connection: str) -> str:
    """One entry per open dashboard: closing one tab leaves the operator's other tabs online."""
    return f"{user_id}:{connection}" if connection else str(user_id)


def _user_of(member: str | bytes) -> int:
    text = member.decode() if isinstance(member, bytes) else member
    return int(text.split(":", 1)[0])


class Presence(Protocol):
    async def touch(
        self,
        user_id: int,
        branch_ids: Iterable[int],
        ttl: float = DEFAULT_TTL_SECONDS,
        connection: str = "",
    ) -> None: ...

    async def leave(
        self, user_id: int, branch_ids: Iterable[int], connection: str = ""
    ) -> None: ...

    async def online_user_ids(self, branch_id: int) -> set[int]: ...

    async def seen_until(self, user_ids: Iterable[int]) -> dict[int, float]:
        """Until when (epoch seconds) each user counts as online from their last refresh;
        a user never seen (or forgotten after a day) is missing. Auto-assignment reads how
        long an operator has been away from it."""
        ...


# The trim and the read of ``online_user_ids`` in one atomic step on the shared pipelined
# connection, where a MULTI must never go (redis_pipe.py).
_ONLINE_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


class RedisPresence:
    def __init__(
        self, redis: Redis, prefix: str = "messenger:presence", pipe: RedisPipe | None = None
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        #: Every widget bootstrap asks who is online: on the hot path's connection if any.
        self._pipe = pipe
        self._online = redis.register_script(_ONLINE_SCRIPT)

    def _key(self, branch_id: int) -> str:
        return f"{self._prefix}:branch:{branch_id}"

    @property
    def _seen_key(self) -> str:
        return f"{self._prefix}:seen"

    async def touch(
        self,
        user_id: int,
        branch_ids: Iterable[int],
        ttl: float = DEFAULT_TTL_SECONDS,
        connection: str = "",
    ) -> None:
        expires = time.time() + ttl
        async with self._redis.pipeline(transaction=True) as pipe:
            for branch_id in branch_ids:
                key = self._key(branch_id)
                pipe.zadd(key, {_member(user_id, connection): expires})
                pipe.expire(key, int(ttl) + 60)
            pipe.zadd(self._seen_key, {str(user_id): expires}, gt=True)
            pipe.expire(self._seen_key, SEEN_TTL_SECONDS)
            await pipe.execute()

    async def leave(self, user_id: int, branch_ids: Iterable[int], connection: str = "") -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for branch_id in branch_ids:
                pipe.zrem(self._key(branch_id), _member(user_id, connection))
            await pipe.execute()

    async def online_user_ids(self, branch_id: int) -> set[int]:
        key = self._key(branch_id)
        if self._pipe is not None:
            members = await self._pipe.run_script(
                self._online.sha, _ONLINE_SCRIPT, [key], [repr(time.time())]
            )
            return {_user_of(m) for m in members}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", time.time())
            pipe.zrange(key, 0, -1)
            _, members = await pipe.execute()
        return {_user_of(m) for m in members}

    async def seen_until(self, user_ids: Iterable[int]) -> dict[int, float]:
        ids = list(user_ids)
        if not ids:
            return {}
        scores = await self._redis.zmscore(self._seen_key, [str(i) for i in ids])
        return {i: float(s) for i, s in zip(ids, scores, strict=True) if s is not None}


class MemoryPresence:
    """Single-process presence for the embedded mode."""

    def __init__(self) -> None:
        self._entries: dict[int, dict[str, float]] = {}
        self._seen: dict[int, float] = {}

    async def touch(
        self,
        user_id: int,
        branch_ids: Iterable[int],
        ttl: float = DEFAULT_TTL_SECONDS,
        connection: str = "",
    ) -> None:
        expires = time.time() + ttl
        for branch_id in branch_ids:
            self._entries.setdefault(branch_id, {})[_member(user_id, connection)] = expires
        self._seen[user_id] = max(expires, self._seen.get(user_id, 0.0))

    async def leave(self, user_id: int, branch_ids: Iterable[int], connection: str = "") -> None:
        for branch_id in branch_ids:
            self._entries.get(branch_id, {}).pop(_member(user_id, connection), None)

    async def online_user_ids(self, branch_id: int) -> set[int]:
        now = time.time()
        members = self._entries.get(branch_id, {})
        for member in [m for m, expires in members.items() if expires <= now]:
            del members[member]
        return {_user_of(m) for m in members}

    async def seen_until(self, user_ids: Iterable[int]) -> dict[int, float]:
        return {i: self._seen[i] for i in user_ids if i in self._seen}
