"""The shared-state backends of a process: Redis (or memory), stores, presence, channels.

With ``REDIS_URL`` set everything shared between requests lives in Redis so that N app
processes behave as one; without it, in-memory stand-ins serve the single-process demo.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.stores.registry import StoreRegistry
from redis.asyncio import Redis

from messenger.config import Settings
from messenger.presence import MemoryPresence, Presence, RedisPresence
from messenger.state import MemoryState, RedisState, SharedState

#: Events a slow stream may have queued before the oldest are dropped (the client then
#: catches up from the database by id when it reconnects).
STREAM_BACKLOG = 500


def _channels(backend: RedisChannelsPubSubBackend | MemoryChannelsBackend) -> ChannelsPlugin:
    return ChannelsPlugin(
        backend=backend,
        arbitrary_channels_allowed=True,  # names are bounded by design: see realtime.events
        subscriber_max_backlog=STREAM_BACKLOG,
        subscriber_backlog_strategy="dropleft",
    )


@dataclass
class Backends:
    redis: Redis | None
    stores: StoreRegistry
    presence: Presence
    state: SharedState
    channels: ChannelsPlugin

    @classmethod
    def from_settings(cls, settings: Settings) -> Backends:
        prefix = settings.redis_prefix
        if settings.redis_url:
            redis = Redis.from_url(
                settings.redis_url,
                socket_connect_timeout=2,
                socket_timeout=5,
                health_check_interval=30,
            )

            def store_factory(name: str) -> Store:
                return RedisStore(redis, namespace=f"{prefix}:{name}", handle_client_shutdown=False)

            return cls(
                redis=redis,
                stores=StoreRegistry(default_factory=store_factory),
                presence=RedisPresence(redis, prefix=f"{prefix}:presence"),
                state=RedisState(redis, prefix=prefix),
                channels=_channels(RedisChannelsPubSubBackend(redis=redis, key_prefix=prefix)),
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

    async def ping(self) -> None:
        """Raise when the shared store does not answer."""
        if self.redis is not None:
            await self.redis.ping()

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
