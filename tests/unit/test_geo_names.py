"""GeoIP place names in both languages, and routing conditions matching either."""

from __future__ import annotations

from pathlib import Path

from messenger.routing.conditions import VisitorContext, parse_conditions
from messenger.visitors.geo import GeoLocator, Location
from tests.support.geo import KAZAN_IP, write_city_mmdb


def test_the_locator_reads_english_and_russian_names(tmp_path: Path) -> None:
    geo = GeoLocator(write_city_mmdb(tmp_path / "city.mmdb"))
    try:
        place = geo.locate(KAZAN_IP)
        assert place == Location(
            country_code="RU",
            country="Russia",
            city="Kazan",
            country_ru="Россия",
            city_ru="Казань",
        )
        assert place.city_names == ("Kazan", "Казань")
        assert geo.locate("198.51.100.1") == Location()  # not in the database
        assert geo.locate("10.0.0.1") == Location()  # private
    finally:
        geo.close()


def test_a_city_rule_matches_the_city_named_in_either_language() -> None:
    kazan = VisitorContext(country_code="RU", city="Kazan", city_names=("Kazan", "Казань"))
    assert parse_conditions({"cities": ["Казань"]}).matches(kazan)
    assert parse_conditions({"cities": ["kazan"]}).matches(kazan)
    assert parse_conditions({"cities": ["Казань".upper(), "Samara"]}).matches(kazan)
    assert not parse_conditions({"cities": ["Самара"]}).matches(kazan)
    assert not parse_conditions({"cities": ["Казань"]}).matches(VisitorContext(country_code="RU"))
    # Countries are ISO codes: the same whatever the language.
    assert parse_conditions({"countries": ["RU"], "cities": ["Казань"]}).matches(kazan)
