"""Routing-condition cases: (conditions, visitor context, matches?), checked on the
conditions alone (unit) and through the routing service (integration)."""

from __future__ import annotations

from typing import Any

CONDITION_CASES: list[tuple[dict[str, Any], dict[str, str | None], bool]] = [
    # countries: ISO codes, case-insensitive on both sides
    ({"countries": ["RU", "BY"]}, {"country_code": "BY"}, True),
    ({"countries": ["ru"]}, {"country_code": "RU"}, True),
    ({"countries": ["RU"]}, {"country_code": "ru"}, True),
    ({"countries": ["RU"]}, {"country_code": "KZ"}, False),
    ({"countries": ["RU"]}, {"country_code": None}, False),
    # cities: case-insensitive names
    ({"cities": ["Kazan", "Samara"]}, {"city": "kazan"}, True),
    ({"cities": ["Санкт-Петербург"]}, {"city": "Санкт-Петербург".upper()}, True),
    ({"cities": ["Kazan"]}, {"city": "Kazan'"}, False),
    ({"cities": ["Kazan"]}, {"city": None}, False),
    # page_urls: glob patterns on the page URL
    (
        {"page_urls": ["https://shop.example/ru/*"]},
        {"page_url": "https://shop.example/ru/"},
        True,
    ),
    (
        {"page_urls": ["https://shop.example/ru/*"]},
        {"page_url": "https://shop.example/ru/catalog/item?id=1"},
        True,
    ),
    (
        {"page_urls": ["https://shop.example/ru/*"]},
        {"page_url": "HTTPS://SHOP.EXAMPLE/RU/cart"},
        True,
    ),
    (
        {"page_urls": ["https://shop.example/ru/*"]},
        {"page_url": "https://shop.example/en/"},
        False,
    ),
    (
        {"page_urls": ["https://shop.example/ru/*"]},
        {"page_url": "https://shop.example/ru"},
        False,
    ),
    ({"page_urls": ["*/pricing"]}, {"page_url": "https://a.example/pricing"}, True),
    ({"page_urls": ["*/pricing"]}, {"page_url": "https://a.example/pricing/x"}, False),
    ({"page_urls": ["https://?.example/*"]}, {"page_url": "https://b.example/x"}, True),
    ({"page_urls": ["https://*.example/*"]}, {"page_url": None}, False),
    (
        {"page_urls": ["https://a.example/*", "https://b.example/*"]},
        {"page_url": "https://b.example/"},
        True,
    ),
    # languages: the primary subtag of the visitor's language
    ({"languages": ["ru"]}, {"language": "ru-RU"}, True),
    ({"languages": ["ru"]}, {"language": "RU"}, True),
    ({"languages": ["ru"]}, {"language": "ru_KZ"}, True),
    ({"languages": ["ru-RU"]}, {"language": "ru"}, True),
    ({"languages": ["en", "de"]}, {"language": "de-AT"}, True),
    ({"languages": ["ru"]}, {"language": "en-US"}, False),
    ({"languages": ["ru"]}, {"language": None}, False),
    # all conditions must hold
    (
        {"countries": ["RU"], "languages": ["en"]},
        {"country_code": "RU", "language": "en"},
        True,
    ),
    (
        {"countries": ["RU"], "languages": ["en"]},
        {"country_code": "RU", "language": "ru"},
        False,
    ),
    (
        {"countries": ["RU"], "languages": ["en"]},
        {"country_code": "KZ", "language": "en"},
        False,
    ),
    # no conditions: a catch-all
    ({}, {}, True),
]
