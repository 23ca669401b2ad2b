"""The shared-state backends of a process: Redis (or memory), stores, presence, channels.

With ``REDIS_URL`` set everything shared between requests lives in Redis so that N app
processes behave as one; without it, in-memory stand-ins serve the single-process demo.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from litestar.stores.registry import StoreRegistry
from redis.asyncio import Redis

from messenger.config import Settings
from messenger.presence import MemoryPresence, Presence, RedisPresence


@dataclass
class Backends:
    redis: Redis | None
    stores: StoreRegistry
    presence: Presence

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
            )

        def memory_factory(_name: str) -> Store:
            return MemoryStore()

        return cls(
            redis=None,
            stores=StoreRegistry(default_factory=memory_factory),
            presence=MemoryPresence(),
        )

    async def ping(self) -> None:
        """Raise when the shared store does not answer."""
        if self.redis is not None:
            await self.redis.ping()

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
