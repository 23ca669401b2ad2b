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
    country_code: str | None = None
    country: str | None = None
    city: str | None = None


class GeoLocator:
    """Looks up addresses; private, loopback and unknown addresses give an empty Location."""

    def __init__(self, path: Path | None) -> None:
        self._reader = geoip2.database.Reader(str(path)) if path is not None else None

    def locate(self, ip: str, locale: str = "en") -> Location:
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
        names = [locale, "en"]

        def pick(values: dict[str, str]) -> str | None:
            return next((values[n] for n in names if n in values), None)

        return Location(
            country_code=record.country.iso_code,
            country=pick(record.country.names),
            city=pick(record.city.names),
        )

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
