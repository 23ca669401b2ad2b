"""The Widget API's long-lived parts, built once per process from the settings."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.backends import Backends
from messenger.config import Settings
from messenger.db.models import Inbox
from messenger.geo import GeoLocator
from messenger.inboxes.allowlist import is_allowed
from messenger.inboxes.service import inbox_settings
from messenger.realtime.publisher import Publisher
from messenger.storage import Storage, storage_from_url
from messenger.widget.challenge import Challenges
from messenger.widget.links import AttachmentLinks
from messenger.widget.service import WidgetService
from messenger.widget.sessions import SessionSigner, StreamTickets
from messenger.widget.throttle import Throttle

ALLOWLIST_CACHE_SECONDS = 5.0


@dataclass
class KnownOrigins:
    """Every active inbox's allowed domains, for CORS preflights (which carry no token and
    so cannot name their inbox). Cached a few seconds per process."""

    domains: list[str] = field(default_factory=list)
    loaded_at: float = float("-inf")

    async def allows(self, origin: str | None, db: AsyncSession) -> bool:
        if origin is None:
            return False
        if time.monotonic() - self.loaded_at > ALLOWLIST_CACHE_SECONDS:
            inboxes = (await db.execute(select(Inbox).where(Inbox.is_active.is_(True)))).scalars()
            self.domains = sorted(
                {d for inbox in inboxes for d in inbox_settings(inbox).security.allowed_domains}
            )
            self.loaded_at = time.monotonic()
        return is_allowed(origin, self.domains)


@dataclass
class WidgetRuntime:
    settings: Settings
    backends: Backends
    signer: SessionSigner
    tickets: StreamTickets
    links: AttachmentLinks
    challenges: Challenges
    throttle: Throttle
    geo: GeoLocator
    storage: Storage
    publisher: Publisher
    known_origins: KnownOrigins

    @classmethod
    def build(cls, settings: Settings, backends: Backends, secret: str) -> WidgetRuntime:
        signer = SessionSigner(secret)
        links = AttachmentLinks(secret)
        return cls(
            settings=settings,
            backends=backends,
            signer=signer,
            tickets=StreamTickets(backends.state, signer),
            links=links,
            challenges=Challenges(backends.state, secret, settings.widget_challenge_max_number),
            throttle=Throttle(backends.state, settings),
            geo=GeoLocator(settings.geoip_db_path if settings.geoip_enabled else None),
            storage=storage_from_url(settings.storage_url, settings.data_dir),
            publisher=Publisher(backends.channels, settings.redis_prefix, links),
            known_origins=KnownOrigins(),
        )

    def service(self, db: AsyncSession) -> WidgetService:
        return WidgetService(
            db=db,
            settings=self.settings,
            state=self.backends.state,
            presence=self.backends.presence,
            publisher=self.publisher,
            signer=self.signer,
            tickets=self.tickets,
            links=self.links,
            geo=self.geo,
            storage=self.storage,
        )
