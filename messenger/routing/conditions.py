"""The typed conditions of a routing rule, and how a visitor is matched against them.

All non-empty conditions must hold (AND); within one condition any listed value may match
(OR). A rule with no conditions matches every visitor (a catch-all at the end of a list).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from sqlalchemy import event

from messenger.db.models import RoutingRule
from messenger.errors import InvalidInputError, invalid_field, validation_reason
from messenger.i18n import N_

_Item = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class RoutingConditions(msgspec.Struct, forbid_unknown_fields=True):
    countries: list[_Item] = []  # ISO 3166-1 alpha-2 codes: "RU", "KZ"
    cities: list[_Item] = []  # GeoIP city names (English or Russian), case-insensitively
    page_urls: list[_Item] = []  # glob patterns on the page URL: "https://shop.example/ru/*"
    languages: list[_Item] = []  # primary language subtags: "ru", "en"

    def matches(self, visitor: VisitorContext) -> bool:
        if self.countries and (visitor.country_code or "").upper() not in self.countries:
            return False
        if self.cities:
            wanted = {c.casefold() for c in self.cities}
            names = {n.casefold() for n in (visitor.city, *visitor.city_names) if n}
            if not names & wanted:
                return False
        if self.page_urls:
            url = (visitor.page_url or "").lower()
            if not any(fnmatch.fnmatchcase(url, pattern.lower()) for pattern in self.page_urls):
                return False
        if self.languages:
            language = (visitor.language or "").split("-")[0].split("_")[0].lower()
            if language not in self.languages:
                return False
        return True


@dataclass(frozen=True, slots=True)
class VisitorContext:
    """What routing may know of a visitor when the first message arrives."""

    country_code: str | None = None
    city: str | None = None
    #: Every name of the city the GeoIP database gives (English, Russian): a rule's city
    #: matches any of them.
    city_names: tuple[str, ...] = ()
    page_url: str | None = None
    language: str | None = None


def parse_conditions(value: Any) -> RoutingConditions:
    try:
        conditions = msgspec.convert(value or {}, RoutingConditions)
    except msgspec.ValidationError as exc:
        field, reason = validation_reason(exc)
        raise invalid_field(field or "conditions", reason) from None
    countries = [c.strip().upper() for c in conditions.countries]
    for code in countries:
        if len(code) != 2 or not code.isalpha():
            raise InvalidInputError(
                N_("%(value)r is not a two-letter country code."), params={"value": code}
            )
    conditions.countries = countries
    conditions.cities = [c.strip() for c in conditions.cities]
    conditions.languages = [lang.strip().lower().split("-")[0] for lang in conditions.languages]
    return conditions


def normalize_conditions(value: Any) -> dict[str, Any]:
    document: dict[str, Any] = msgspec.to_builtins(parse_conditions(value))
    return document


@event.listens_for(RoutingRule.conditions, "set", retval=True)
def _validated_on_write(
    _target: RoutingRule, value: Any, _old: Any, _initiator: Any
) -> dict[str, Any]:
    """Every write of ``RoutingRule.conditions`` goes through the typed structs (and is normalised).

    Registered here, by the domain rule, so the model imports no domain code.
    """
    return normalize_conditions(value)
