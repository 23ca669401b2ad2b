"""Visitor location from the client IP through a MaxMind (GeoIP2/GeoLite2 City) database."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

import geoip2.database
import geoip2.errors
from maxminddb import InvalidDatabaseError


@dataclass(frozen=True, slots=True)
class Location:
    """A place in English (``country``, ``city``; the database's fallback when it has no
    English name) and in Russian (``country_ru``, ``city_ru``), as the database names it."""

    country_code: str | None = None
    country: str | None = None
    city: str | None = None
    country_ru: str | None = None
    city_ru: str | None = None

    @property
    def city_names(self) -> tuple[str, ...]:
        """Every name of the city known (what a routing rule may be written in)."""
        return tuple(name for name in (self.city, self.city_ru) if name)


class GeoLocator:
    """Looks up addresses; private, loopback and unknown addresses give an empty Location."""

    def __init__(self, path: Path | None) -> None:
        self._reader = geoip2.database.Reader(str(path)) if path is not None else None

    def locate(self, ip: str) -> Location:
        if self._reader is None:
            return Location()
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return Location()
        if address.is_private or address.is_loopback:
            return Location()
        try:
            record = self._reader.city(str(address))
        except (geoip2.errors.AddressNotFoundError, InvalidDatabaseError, ValueError, TypeError):
            return Location()

        def pick(values: dict[str, str], language: str) -> str | None:
            return values.get(language) or values.get("en") or next(iter(values.values()), None)

        return Location(
            country_code=record.country.iso_code,
            country=pick(record.country.names, "en"),
            city=pick(record.city.names, "en"),
            country_ru=record.country.names.get("ru"),
            city_ru=record.city.names.get("ru"),
        )

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
