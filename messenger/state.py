"""Small atomic primitives on the shared store: windows, one-shot keys, take-once values.

Redis in production (shared by every process, atomic through Lua / single commands); a
dict with expiry times for the single-process embedded mode. Throttling, stream tickets,
challenge replay protection and typing all stand on these four operations.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from messenger.redis_pipe import RedisPipe

# INCR a window counter; start its expiry on the first hit; answer (count, ms left).
_WINDOW_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""

# SET NX PX, else the holder's ms left (at least 1): ``claim`` in one round trip.
_CLAIM_SCRIPT = """
if redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 1 then ttl = 1 end
return ttl
"""

# Leases in capped sets (one sorted set per key, score = expiry in ms, Redis time): drop the
# expired, refuse when any set is full (answer its 1-based index), else add to every set.
_ENTER_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZSCORE', key, ARGV[1]) == false
     and redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then return i end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[1])
  redis.call('PEXPIRE', key, ttl)
end
return 0
"""

# Renew many leases at once (never refusing): KEYS[i] holds the member ARGV[1 + i]; ARGV[1]
# is the ttl. The same writes as _ENTER_SCRIPT without its caps.
_RENEW_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  redis.call('ZADD', key, now + ttl, ARGV[1 + i])
  redis.call('PEXPIRE', key, ttl)
end
return 0
"""

# All the limits of one call in one round trip (the widget's hot path): answer the value of
# KEYS[1] (a watched generation counter, '0' when unset), then check KEYS[2..] in order,
# each by its kind in ARGV (triples: kind, ms, cap): 'w' counts a fixed window of ms and
# refuses past cap hits; 'g' claims a minimum gap of ms (SET NX PX). The first refusal
# stops the script (later limits are not counted) and answers its 1-based index and the
# ms until it frees: {generation, index or 0, ms, count of each check counted}.
_CHECK_SCRIPT = """
local generation = redis.call('GET', KEYS[1]) or '0'
local out = {generation, 0, 0}
for i = 2, #KEYS do
  local kind, ms, cap = ARGV[3 * i - 5], tonumber(ARGV[3 * i - 4]), tonumber(ARGV[3 * i - 3])
  if kind == 'g' then
    if not redis.call('SET', KEYS[i], '1', 'PX', ms, 'NX') then
      local ttl = redis.call('PTTL', KEYS[i])
      if ttl < 1 then ttl = 1 end
      out[2] = i - 1; out[3] = ttl
      return out
    end
    out[#out + 1] = 1
  else
    local count = redis.call('INCR', KEYS[i])
    if count == 1 then redis.call('PEXPIRE', KEYS[i], ms) end
    out[#out + 1] = count
    if count > cap then
      local ttl = redis.call('PTTL', KEYS[i])
      if ttl < 0 then redis.call('PEXPIRE', KEYS[i], ms); ttl = ms end
      out[2] = i - 1; out[3] = ttl
      return out
    end
  end
end
return out
"""


@dataclass(frozen=True, slots=True)
class Check:
    """One limit of a call: a fixed ``window`` of ``ms`` allowing ``cap`` hits, or a
    minimum ``gap`` of ``ms`` between two calls (``cap`` unused)."""

    key: str
    kind: Literal["window", "gap"]
    ms: int
    cap: int = 0


@dataclass(frozen=True, slots=True)
class Checked:
    """What :meth:`SharedState.check` answers: the watched value, and the first refused
    check (its index in the list, and the ms until it frees) or None."""

    generation: int
    refused: int | None = None
    retry_ms: int = 0
    #: The hits of each window counted (a gap counts 1), in order, up to a refusal.
    counts: tuple[int, ...] = ()


class SharedState(Protocol):
    async def check(self, watched: str, checks: Sequence[Check]) -> Checked:
        """Count ``checks`` in order, stopping at the first refusal, and read the counter
        ``watched`` (see :meth:`bump`) in the same atomic step: one round trip."""
        ...

    async def bump(self, key: str) -> None:
        """Increment the counter ``key`` (no expiry): tells every process that what it
        cached under that generation is stale."""
        ...

    async def hit(self, key: str, window_ms: int) -> tuple[int, int]:
        """Count one hit in the fixed window ``key``; ``(hits so far, ms until it resets)``."""
        ...

    async def claim(self, key: str, ttl_ms: int) -> int:
        """Set ``key`` if absent; 0 when claimed now, else the ms until the holder expires."""
        ...

    async def put(self, key: str, value: bytes, ttl_ms: int) -> None: ...

    async def take(self, key: str) -> bytes | None:
        """Get and delete in one step: a value can be taken once."""
        ...

    async def enter(self, caps: dict[str, int], member: str, ttl_ms: int) -> str | None:
        """Add a lease ``member`` (expiring in ``ttl_ms``) to every set in ``caps`` unless one
        already holds its cap of live leases: then add nothing and answer that set's key.
        Entering again with the same member renews it."""
        ...

    async def renew(self, leases: Sequence[tuple[Sequence[str], str]], ttl_ms: int) -> None:
        """Renew every lease ``(keys, member)`` for ``ttl_ms`` (added if it had expired,
        never refused), all in one step: thousands of open streams renew in few calls."""
        ...

    async def leave(self, keys: list[str], member: str) -> None: ...


class RedisState:
    def __init__(self, redis: Redis, prefix: str, pipe: RedisPipe | None = None) -> None:
        self._redis = redis
        #: The hot path's limits go down the shared pipelined connection when there is one.
        self._pipe = pipe
        self._prefix = prefix
        self._window = redis.register_script(_WINDOW_SCRIPT)
        self._enter = redis.register_script(_ENTER_SCRIPT)
        self._renew = redis.register_script(_RENEW_SCRIPT)
        self._check = redis.register_script(_CHECK_SCRIPT)
        self._claim = redis.register_script(_CLAIM_SCRIPT)

    def _k(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    async def check(self, watched: str, checks: Sequence[Check]) -> Checked:
        args: list[str | int] = []
        for c in checks:
            args += ["g" if c.kind == "gap" else "w", c.ms, c.cap]
        keys = [self._k(watched), *(self._k(c.key) for c in checks)]
        generation, refused, retry_ms, *counts = await self._script(
            self._check, _CHECK_SCRIPT, keys, args
        )
        return Checked(
            int(generation),
            int(refused) - 1 if refused else None,
            int(retry_ms),
            tuple(int(c) for c in counts),
        )

    async def bump(self, key: str) -> None:
        if self._pipe is not None:
            await self._pipe.execute("INCR", self._k(key))
            return
        await self._redis.incr(self._k(key))

    async def _script(
        self, script: AsyncScript, source: str, keys: list[str], args: list[Any]
    ) -> Any:
        if self._pipe is not None:
            return await self._pipe.run_script(script.sha, source, keys, args)
        return await script(keys=keys, args=args)

    async def hit(self, key: str, window_ms: int) -> tuple[int, int]:
        count, ttl = await self._script(self._window, _WINDOW_SCRIPT, [self._k(key)], [window_ms])
        return int(count), int(ttl)

    async def claim(self, key: str, ttl_ms: int) -> int:
        if self._pipe is not None:
            # One round trip: SET NX, else the holder's PTTL (never a MULTI on the shared
            # connection: see redis_pipe.py).
            return int(
                await self._pipe.run_script(
                    self._claim.sha, _CLAIM_SCRIPT, [self._k(key)], [ttl_ms]
                )
            )
        if await self._redis.set(self._k(key), b"1", px=ttl_ms, nx=True):
            return 0
        ttl = await self._redis.pttl(self._k(key))
        return max(int(ttl), 1)

    async def put(self, key: str, value: bytes, ttl_ms: int) -> None:
        if self._pipe is not None:
            await self._pipe.execute("SET", self._k(key), value, "PX", ttl_ms)
            return
        await self._redis.set(self._k(key), value, px=ttl_ms)

    async def take(self, key: str) -> bytes | None:
        if self._pipe is not None:
            return cast("bytes | None", await self._pipe.execute("GETDEL", self._k(key)))
        # redis-py types replies as bytes | str; this client never decodes (backends.py).
        return cast("bytes | None", await self._redis.getdel(self._k(key)))

    async def enter(self, caps: dict[str, int], member: str, ttl_ms: int) -> str | None:
        keys = list(caps)
        full = int(
            await self._script(
                self._enter,
                _ENTER_SCRIPT,
                [self._k(k) for k in keys],
                [member, ttl_ms, *caps.values()],
            )
        )
        return keys[full - 1] if full else None

    async def renew(self, leases: Sequence[tuple[Sequence[str], str]], ttl_ms: int) -> None:
        keys = [self._k(key) for lease_keys, _ in leases for key in lease_keys]
        members = [member for lease_keys, member in leases for _ in lease_keys]
        if keys:
            await self._script(self._renew, _RENEW_SCRIPT, keys, [ttl_ms, *members])

    async def leave(self, keys: list[str], member: str) -> None:
        if self._pipe is not None:
            await asyncio.gather(
                *(self._pipe.execute("ZREM", self._k(key), member) for key in keys)
            )
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zrem(self._k(key), member)
            await pipe.execute()


class MemoryState:
    """Single-process stand-in (embedded mode); the event loop makes each call atomic.

    ``clock`` (seconds, monotonic) is injectable so that expiry can be tested without waiting.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._values: dict[str, tuple[bytes | int, float]] = {}
        self._leases: dict[str, dict[str, float]] = {}
        self._counters: dict[str, int] = {}
        self._clock = clock

    def _live(self, key: str) -> tuple[bytes | int, float] | None:
        entry = self._values.get(key)
        if entry is not None and entry[1] <= self._clock():
            del self._values[key]
            return None
        if len(self._values) > 100_000:  # keep memory bounded under abuse
            now = self._clock()
            for stale in [k for k, (_, exp) in self._values.items() if exp <= now]:
                del self._values[stale]
        return entry

    async def check(self, watched: str, checks: Sequence[Check]) -> Checked:
        generation = self._counters.get(watched, 0)
        counts: list[int] = []
        for index, c in enumerate(checks):
            if c.kind == "gap":
                wait = await self.claim(c.key, c.ms)
                if wait:
                    return Checked(generation, index, wait, tuple(counts))
                counts.append(1)
                continue
            count, ttl = await self.hit(c.key, c.ms)
            counts.append(count)
            if count > c.cap:
                return Checked(generation, index, ttl, tuple(counts))
        return Checked(generation, counts=tuple(counts))

    async def bump(self, key: str) -> None:
        self._counters[key] = self._counters.get(key, 0) + 1

    async def hit(self, key: str, window_ms: int) -> tuple[int, int]:
        entry = self._live(key)
        now = self._clock()
        if entry is None:
            self._values[key] = (1, now + window_ms / 1000)
            return 1, window_ms
        count, expires = entry
        self._values[key] = (int(count) + 1, expires)
        return int(count) + 1, max(int((expires - now) * 1000), 1)

    async def claim(self, key: str, ttl_ms: int) -> int:
        entry = self._live(key)
        now = self._clock()
        if entry is None:
            self._values[key] = (1, now + ttl_ms / 1000)
            return 0
        return max(int((entry[1] - now) * 1000), 1)

    async def put(self, key: str, value: bytes, ttl_ms: int) -> None:
        self._values[key] = (value, self._clock() + ttl_ms / 1000)

    async def take(self, key: str) -> bytes | None:
        entry = self._live(key)
        if entry is None:
            return None
        del self._values[key]
        value = entry[0]
        return value if isinstance(value, bytes) else None

    async def enter(self, caps: dict[str, int], member: str, ttl_ms: int) -> str | None:
        now = self._clock()
        for key, cap in caps.items():
            live = {m: exp for m, exp in self._leases.get(key, {}).items() if exp > now}
            self._leases[key] = live
            if member not in live and len(live) >= cap:
                return key
        for key in caps:
            self._leases[key][member] = now + ttl_ms / 1000
        return None

    async def renew(self, leases: Sequence[tuple[Sequence[str], str]], ttl_ms: int) -> None:
        for keys, member in leases:
            await self.enter(dict.fromkeys(keys, 2**62), member, ttl_ms)

    async def leave(self, keys: list[str], member: str) -> None:
        for key in keys:
            leases = self._leases.get(key)
            if leases is not None:
                leases.pop(member, None)
                if not leases:
                    del self._leases[key]
