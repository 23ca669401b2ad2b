"""The shared-state backends of a process: Redis (or memory), stores, presence, channels.

With ``REDIS_URL`` set everything shared between requests lives in Redis so that N app
processes behave as one; without it, in-memory stand-ins serve the single-process demo.

When Redis goes away, every call fails fast (short socket timeouts, one immediate retry on
a fresh connection: a call answers 503 within a second, error_handlers.py) and recovers by
itself when Redis is back. Live fan-out uses :class:`ResilientRedisPubSub` instead of
Litestar's ``RedisChannelsPubSubBackend``: that backend reads with one background task that
the first connection error ends for good (no live event reaches the process again until it
restarts), and a SUBSCRIBE that fails leaves the channel marked as subscribed. This one
keeps the set of channels it wants; its reader reconnects with a short back-off and
subscribes to all of them again. What was published while it was down is lost to pub/sub:
streams catch up from the database on a timer (``MESSENGER_STREAM_CATCH_UP_SECONDS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from typing import Any

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.stores.registry import StoreRegistry
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from messenger.config import Settings
from messenger.presence import MemoryPresence, Presence, RedisPresence
from messenger.redis_pipe import FixedAddress, RedisPipe, SentinelAddress
from messenger.state import MemoryState, RedisState, SharedState
from messenger.subscribers import LeanSubscriber

#: Events a slow stream may have queued before the oldest are dropped (the client then
#: catches up from the database by id when it reconnects).
STREAM_BACKLOG = 500

log = logging.getLogger("messenger.channels")


#: The same atomic multi-channel PUBLISH as Litestar's backend.
_PUBLISH = """
for _, key in ipairs(KEYS) do
    redis.call("PUBLISH", key, ARGV[1])
end
"""
_READ_TIMEOUT_SECONDS = 1.0
_BACKOFF_FIRST_SECONDS = 0.1
_BACKOFF_MAX_SECONDS = 2.0


class ResilientRedisPubSub(ChannelsBackend):
    def __init__(self, redis: Redis, pipe: RedisPipe | None = None) -> None:
        self._redis = redis
        self._pipe = pipe
        self._publish_script = redis.register_script(_PUBLISH)
        self._wanted: set[str] = set()
        self._pubsub: PubSub | None = None
        self._has_channels = asyncio.Event()
        #: Set while the reader holds a connection subscribed to everything wanted.
        self._live = asyncio.Event()
        #: False while the reader has lost its connection (``/ready`` reports it).
        self.connected = True
        #: How many times the reader lost its connection.
        self.outages = 0

    async def on_startup(self) -> None:
        return None

    async def on_shutdown(self) -> None:
        await self._drop(self._pubsub)

    async def _drop(self, pubsub: PubSub | None) -> None:
        if pubsub is None:
            return
        if self._pubsub is pubsub:
            self._pubsub = None
            self._live.clear()
        with contextlib.suppress(Exception):
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def subscribe(self, channels: Iterable[str]) -> None:
        names = set(channels)
        self._wanted |= names
        self._has_channels.set()
        pubsub = self._pubsub
        if pubsub is None:
            # The reader subscribes to everything wanted when it (re)connects: wait for it
            # (a short while at most), so that a stream says "connected" once its channels
            # are live, not 2 s before its first catch-up read (realtime/stream.py).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._live.wait(), _READ_TIMEOUT_SECONDS)
            return
        try:
            await pubsub.subscribe(*names)
        except (RedisError, OSError) as exc:
            log.warning("subscribing failed (%s); the reader reconnects", type(exc).__name__)
            await self._drop(pubsub)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        names = set(channels)
        self._wanted -= names
        if not self._wanted:
            self._has_channels.clear()
        pubsub = self._pubsub
        if pubsub is not None and names:
            try:
                await pubsub.unsubscribe(*names)
            except (RedisError, OSError):
                await self._drop(pubsub)

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        keys = list(set(channels))
        if self._pipe is not None:
            await self._pipe.run_script(self._publish_script.sha, _PUBLISH, keys, [data])
            return
        await self._publish_script(keys=keys, args=[data])

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        raise NotImplementedError

    async def _connect(self) -> PubSub:
        pubsub = self._redis.pubsub()
        try:
            subscribed = set(self._wanted)
            await pubsub.subscribe(*sorted(subscribed))
            self._pubsub = pubsub
            # Channels wanted or dropped while that SUBSCRIBE was on its way (subscribe()
            # saw no connection then and left them to this reader).
            missing, extra = self._wanted - subscribed, subscribed - self._wanted
            if missing:
                await pubsub.subscribe(*sorted(missing))
            if extra:
                await pubsub.unsubscribe(*sorted(extra))
            self._live.set()
        except BaseException:
            await self._drop(pubsub)
            raise
        return pubsub

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        backoff = _BACKOFF_FIRST_SECONDS
        while True:
            await self._has_channels.wait()
            pubsub = self._pubsub
            if pubsub is None and not self._wanted:
                continue
            try:
                if pubsub is None:
                    pubsub = await self._connect()
                    if not self.connected:
                        log.warning("live fan-out reconnected to Redis")
                    self.connected = True
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=_READ_TIMEOUT_SECONDS
                )
            except (RedisError, OSError, RuntimeError) as exc:
                if self.connected:
                    self.outages += 1
                    log.warning("live fan-out lost Redis (%s); reconnecting", type(exc).__name__)
                self.connected = False
                await self._drop(pubsub)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_SECONDS)
                continue
            backoff = _BACKOFF_FIRST_SECONDS
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"].decode()
            if channel in self._wanted:
                yield channel, message["data"]


def _channels(backend: ChannelsBackend) -> ChannelsPlugin:
    return ChannelsPlugin(
        backend=backend,
        arbitrary_channels_allowed=True,  # names are bounded by design: see realtime.events
        subscriber_max_backlog=STREAM_BACKLOG,
        subscriber_backlog_strategy="dropleft",
        # A list and a future per open stream instead of an asyncio.Queue (subscribers.py).
        subscriber_class=LeanSubscriber,
    )


#: Redis connections per process at most (commands wait for a free one past this).
REDIS_MAX_CONNECTIONS = 256


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """redis-py's sentinel pool (connections find the current primary through the
    sentinels, and find it again after a failover) that waits for a free connection past
    its size, like the direct one (redis-py has no such class: the two combine as is)."""


def redis_client(settings: Settings, *, max_connections: int = REDIS_MAX_CONNECTIONS) -> Redis:
    """The process's Redis client: ``REDIS_URL`` directly, or the primary named by
    ``REDIS_SENTINEL_MASTER`` through ``REDIS_SENTINELS``."""
    timeout = settings.redis_timeout_seconds
    common: dict[str, Any] = {
        "max_connections": max_connections,
        "timeout": timeout,
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        # One immediate retry on a fresh connection (the pooled one may be dead after a
        # Redis restart or a failover); no back-off: a client waits at most ~2 timeouts.
        "retry": Retry(NoBackoff(), 1),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "health_check_interval": 30,
    }
    if not settings.redis_sentinels:
        assert settings.redis_url is not None
        # A blocking pool: past its size a call waits (at most the timeout) for a free
        # connection instead of failing at once — thousands of open streams renew their
        # leases in bursts (redis-py's default pool refuses its 101st connection).
        return Redis(connection_pool=BlockingConnectionPool.from_url(settings.redis_url, **common))
    # Password, user, database and TLS of the primary from REDIS_URL (its host is unused).
    auth: dict[str, Any] = {}
    if settings.redis_url is not None:
        parsed = parse_url(settings.redis_url)
        auth = {k: parsed[k] for k in ("username", "password", "db") if parsed.get(k) is not None}
        if settings.redis_url.startswith("rediss://"):
            auth["ssl"] = True
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(settings.redis_sentinels),
        sentinel_kwargs={"socket_connect_timeout": timeout, "socket_timeout": timeout},
    )
    assert settings.redis_sentinel_master is not None  # the settings require both
    primary: Redis = sentinel.master_for(
        settings.redis_sentinel_master,
        connection_pool_class=_BlockingSentinelPool,
        **common,
        **auth,
    )
    return primary


def redis_pipe(settings: Settings, client: Redis) -> RedisPipe | None:
    """The one pipelined connection for the hot commands (redis_pipe.py), to the same
    server as ``client``; None for a Unix socket (the pooled client serves it alone)."""
    timeout = settings.redis_timeout_seconds
    auth: dict[str, Any] = {}
    if settings.redis_url is not None:
        parsed = parse_url(settings.redis_url)
        if "path" in parsed:
            return None
        auth = {
            "username": parsed.get("username"),
            "password": parsed.get("password"),
            "db": int(parsed.get("db") or 0),
            "use_ssl": settings.redis_url.startswith("rediss://"),
        }
    if settings.redis_sentinels:
        return RedisPipe(SentinelAddress(client.connection_pool), timeout=timeout, **auth)
    parsed = parse_url(settings.redis_url or "")
    address = FixedAddress(str(parsed.get("host", "localhost")), int(parsed.get("port", 6379)))
    return RedisPipe(address, timeout=timeout, **auth)


@dataclass
class Backends:
    redis: Redis | None
    stores: StoreRegistry
    presence: Presence
    state: SharedState
    channels: ChannelsPlugin
    #: The Redis live fan-out (None in memory mode), kept for its health.
    fan_out: ResilientRedisPubSub | None = None
    #: The pipelined connection of the hot commands (None in memory mode).
    pipe: RedisPipe | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Backends:
        prefix = settings.redis_prefix
        if settings.uses_redis:
            redis = redis_client(settings)
            pipe = redis_pipe(settings, redis)

            def store_factory(name: str) -> Store:
                return RedisStore(redis, namespace=f"{prefix}:{name}", handle_client_shutdown=False)

            fan_out = ResilientRedisPubSub(redis, pipe)
            return cls(
                redis=redis,
                pipe=pipe,
                fan_out=fan_out,
                stores=StoreRegistry(default_factory=store_factory),
                presence=RedisPresence(redis, prefix=f"{prefix}:presence", pipe=pipe),
                state=RedisState(redis, prefix=prefix, pipe=pipe),
                channels=_channels(fan_out),
            )

        def memory_factory(_name: str) -> Store:
            return MemoryStore()

        return cls(
            redis=None,
            stores=StoreRegistry(default_factory=memory_factory),
            presence=MemoryPresence(),
            state=MemoryState(),
            channels=_channels(MemoryChannelsBackend()),
        )

    @property
    def live_fan_out_connected(self) -> bool:
        """False while the live fan-out's reader has lost Redis (``/ready`` says so)."""
        return self.fan_out is None or self.fan_out.connected

    async def ping(self) -> None:
        """Raise when the shared store does not answer."""
        if self.redis is not None:
            await self.redis.ping()

    async def close(self) -> None:
        if self.pipe is not None:
            await self.pipe.aclose()
        if self.redis is not None:
            await self.redis.aclose()
