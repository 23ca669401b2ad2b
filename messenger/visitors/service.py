"""What the request tells about a visitor, and the visitor's row (written with the first
message, never by a bootstrap)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db.models import Inbox, Visitor
from messenger.i18n import primary_language
from messenger.routing.conditions import VisitorContext
from messenger.visitors.geo import GeoLocator, Location


def visible_text(value: str | None) -> str | None:
    """``value`` without format characters (Unicode ``Cf``: bidi overrides and isolates,
    zero-width spaces and joiners), which could make a name read as something else to an
    operator; None when nothing visible is left."""
    if value is None:
        return None
    cleaned = "".join(c for c in value if unicodedata.category(c) != "Cf").strip()
    return cleaned or None


@dataclass(frozen=True, slots=True)
class Caller:
    """What the request tells about the visitor, beyond the body."""

    ip: str
    user_agent: str | None = None
    accept_language: str | None = None


def locate(settings: Settings, geo: GeoLocator, caller: Caller) -> Location:
    return geo.locate(caller.ip) if settings.geoip_enabled else Location()


def observed(
    location: Location,
    caller: Caller,
    page_url: str | None,
    contact: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """What a visitor's message tells about them (None: not told, keep the stored value)."""
    return {
        "page_url": page_url,
        "user_agent": (caller.user_agent or "")[:512] or None,
        "locale": primary_language(caller.accept_language),
        "country_code": location.country_code,
        "country": location.country,
        "city": location.city,
        "country_ru": location.country_ru,
        "city_ru": location.city_ru,
        # A contact typed by the visitor: no invisible characters stored.
        **{key: visible_text(value) for key, value in (contact or {}).items()},
    }


class VisitorService:
    def __init__(self, db: AsyncSession, settings: Settings, geo: GeoLocator) -> None:
        self.db = db
        self.settings = settings
        self.geo = geo

    def observed(
        self, caller: Caller, page_url: str | None, contact: dict[str, str | None] | None = None
    ) -> dict[str, Any]:
        return observed(self.locate(caller), caller, page_url, contact)

    def locate(self, caller: Caller) -> Location:
        return locate(self.settings, self.geo, caller)

    def context(self, caller: Caller, page_url: str | None, locale: str | None) -> VisitorContext:
        """What routing rules look at: place, page and language."""
        location = self.locate(caller)
        return VisitorContext(
            country_code=location.country_code,
            city=location.city,
            city_names=location.city_names,
            page_url=page_url,
            language=primary_language(locale, caller.accept_language),
        )

    async def upsert(
        self,
        inbox: Inbox,
        visitor_id: UUID,
        caller: Caller,
        page_url: str | None,
        *,
        contact: dict[str, str | None] | None = None,
        referrer: str | None = None,
    ) -> Visitor:
        """The visitor's row, created with the first message and refreshed by later ones
        (a value the request does not carry keeps the stored one). The referrer is the one
        of the visit that brought the visitor: kept once stored."""
        visitor = await self.db.get(Visitor, visitor_id)
        fields = self.observed(caller, page_url, contact)
        if visitor is None:
            visitor = Visitor(id=visitor_id, inbox_id=inbox.id, referrer=referrer, **fields)
            self.db.add(visitor)
            await self.db.flush()
        else:
            for key, value in fields.items():
                if value is not None:
                    setattr(visitor, key, value)
            if visitor.referrer is None and referrer:
                visitor.referrer = referrer
        return visitor
