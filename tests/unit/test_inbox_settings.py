"""Inbox settings (typed, validated on every write) and the inbox service: tokens, domains."""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from typing import Any

import pytest

from messenger.db.models import Inbox
from messenger.errors import InvalidInputError
from messenger.inboxes.service import (
    TOKEN_PREFIX,
    new_widget_token,
)
from messenger.inboxes.settings import (
    DEFAULT_CONTENT_TYPES,
    FORBIDDEN_CONTENT_TYPES,
    normalize_settings,
    parse_settings,
)


def week(**days: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "working_hours": {
            "timezone": "Europe/Moscow",
            "week": {d: [{"start": s, "end": e} for s, e in v] for d, v in days.items()},
        }
    }


# --- the settings document ------------------------------------------------------------------


def test_empty_settings_get_safe_defaults():
    settings = parse_settings({})
    assert settings.security.allowed_domains == []
    assert settings.working_hours is None
    assert settings.attachments.enabled is False
    assert settings.attachments.content_types == DEFAULT_CONTENT_TYPES
    assert not set(settings.attachments.content_types) & FORBIDDEN_CONTENT_TYPES
    assert settings.privacy.url is None
    assert settings.privacy.text is None
    assert parse_settings(None) == settings


def test_a_full_document_round_trips():
    document = {
        "security": {"allowed_domains": ["Shop.Example", "*.shop.example", "shop.example"]},
        "privacy": {"url": "https://shop.example/privacy", "text": "We keep data for 30 days."},
        "working_hours": {
            "timezone": "Asia/Almaty",
            "week": {"mon": [{"start": "09:00", "end": "18:00"}], "sat": []},
        },
        "offline": {"message": "Leave us a message"},
        "attachments": {
            "enabled": True,
            "max_bytes": 1024,
            "content_types": ["Image/PNG", "image/png", " application/pdf "],
        },
        "locale": "en",
        "greeting": "Hi!",
        "appearance": {"color": "#AABBCC", "position": "left", "title": "Shop"},
    }
    stored = normalize_settings(document)
    assert stored["security"]["allowed_domains"] == ["shop.example", "*.shop.example"]
    assert stored["attachments"]["content_types"] == ["image/png", "application/pdf"]
    assert stored["working_hours"]["timezone"] == "Asia/Almaty"
    assert stored["privacy"] == {
        "url": "https://shop.example/privacy",
        "text": document["privacy"]["text"],
    }
    assert normalize_settings(stored) == stored  # normalising is idempotent
    assert normalize_settings(b'{"locale": "ru"}')["locale"] == "ru"
    assert normalize_settings('{"locale": "en"}')["locale"] == "en"
    assert normalize_settings(parse_settings(document)) == stored


@pytest.mark.parametrize(
    "document",
    [
        # unknown fields, at every level
        {"colour": "#000000"},
        {"security": {"allowed_domain": ["shop.example"]}},
        {"privacy": {"link": "https://x.example"}},
        {"working_hours": {"tz": "UTC"}},
        {"working_hours": {"week": {"mon": [{"start": "09:00", "end": "18:00", "x": 1}]}}},
        {"attachments": {"types": ["image/png"]}},
        {"offline": {"email": "a@b.c"}},
        # wrong types
        {"security": {"allowed_domains": "shop.example"}},
        {"attachments": {"enabled": "yes"}},
        {"greeting": 5},
        ["not", "a", "mapping"],
        "not json",
        b"{",
        # time zones
        {"working_hours": {"timezone": "Mars/Olympus_Mons"}},
        {"working_hours": {"timezone": ""}},
        {"working_hours": {"timezone": "../../etc/passwd"}},
        {"working_hours": {"timezone": "+03:00"}},
        # days and times
        week(monday=[("09:00", "18:00")]),
        week(mon=[("9:00", "18:00")]),
        week(mon=[("09:00", "18")]),
        week(mon=[("09:00", "1800")]),
        week(mon=[("09:00", "24:01")]),
        week(mon=[("09:00", "25:00")]),
        week(mon=[("09:60", "18:00")]),
        week(mon=[("09:00 ", "18:00")]),
        week(mon=[("09:00", "18:00:00")]),
        week(mon=[("٠٩:00", "18:00")]),
        week(mon=[("0٩:00", "18:00")]),  # an Arabic-Indic digit
        week(mon=[("09:00", "1٨:00")]),
        week(mon=[("18:00", "09:00")]),  # ends before it starts
        week(mon=[("09:00", "09:00")]),  # empty
        week(mon=[("22:00", "02:00")]),  # across midnight: split it in two
        week(mon=[("24:00", "24:00")]),  # 24:00 only ends a day
        week(mon=[("24:00", "23:00")]),
        # content types
        {"attachments": {"content_types": ["text/html"]}},
        {"attachments": {"content_types": ["TEXT/HTML"]}},
        {"attachments": {"content_types": [" text/html "]}},
        {"attachments": {"content_types": ["image/png", "image/svg+xml"]}},
        {"attachments": {"content_types": ["application/xhtml+xml"]}},
        {"attachments": {"content_types": ["text/javascript"]}},
        {"attachments": {"content_types": ["application/javascript"]}},
        {"attachments": {"content_types": ["text/xml"]}},
        {"attachments": {"content_types": ["text/html; charset=utf-8"]}},
        {"attachments": {"content_types": ["html"]}},
        {"attachments": {"content_types": ["*/*"]}},
        {"attachments": {"content_types": [""]}},
        # sizes
        {"attachments": {"max_bytes": 0}},
        {"attachments": {"max_bytes": -1}},
        {"attachments": {"max_bytes": 100 * 1024 * 1024 + 1}},
        # domains
        {"security": {"allowed_domains": ["https://shop.example"]}},
        {"security": {"allowed_domains": ["shop.example/path"]}},
        {"security": {"allowed_domains": ["*.com"]}},
        {"security": {"allowed_domains": ["127.1"]}},
        {"security": {"allowed_domains": ["shop.example@evil.net"]}},
        {"security": {"allowed_domains": [""]}},
        # the rest
        {"privacy": {"url": "javascript:alert(1)"}},
        {"privacy": {"url": "ftp://shop.example/privacy"}},
        {"privacy": {"url": "//shop.example/privacy"}},
        {"privacy": {"text": "x" * 2001}},
        {"locale": "de"},
        {"appearance": {"color": "red"}},
        {"appearance": {"color": "#12345"}},
        {"appearance": {"position": "top"}},
        {"greeting": "x" * 2001},
    ],
)
def test_bad_settings_are_refused(document: Any):
    with pytest.raises(InvalidInputError):
        normalize_settings(document)


@pytest.mark.parametrize(
    "intervals",
    [
        [("00:00", "24:00")],
        [("00:00", "23:59")],
        [("09:00", "13:00"), ("14:00", "18:00")],
        [("23:59", "24:00")],
    ],
)
def test_good_working_hours_are_accepted(intervals: list[tuple[str, str]]):
    stored = normalize_settings(week(mon=intervals, sun=intervals))
    assert stored["working_hours"]["week"]["mon"] == [{"start": s, "end": e} for s, e in intervals]


def test_every_forbidden_content_type_is_refused():
    for content_type in sorted(FORBIDDEN_CONTENT_TYPES):
        with pytest.raises(InvalidInputError, match="active content"):
            normalize_settings({"attachments": {"content_types": [content_type]}})


def test_errors_name_the_field():
    with pytest.raises(InvalidInputError, match=r"working_hours\.timezone"):
        normalize_settings({"working_hours": {"timezone": "Nowhere/City"}})
    with pytest.raises(InvalidInputError, match=r"security\.allowed_domains"):
        normalize_settings({"security": {"allowed_domains": ["http://x.example"]}})
    with pytest.raises(InvalidInputError, match=r"working_hours\.week\.tue"):
        normalize_settings(week(tue=[("18:00", "09:00")]))


# --- the model validates every write ----------------------------------------------------------


def test_model_refuses_bad_settings_on_construction():
    with pytest.raises(InvalidInputError):
        Inbox(name="x", widget_token=new_widget_token(), settings={"unknown": 1})


# --- the inbox service: creation, tokens, domains -------------------------------------------

TOKEN_BODY = re.compile(r"^[A-Za-z0-9_-]+$")


def _token_bits(token: str) -> int:
    assert token.startswith(TOKEN_PREFIX)
    body = token[len(TOKEN_PREFIX) :]
    assert TOKEN_BODY.match(body)
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return len(raw) * 8


def test_widget_tokens_carry_at_least_128_random_bits():
    tokens = [new_widget_token() for _ in range(2000)]
    assert len(set(tokens)) == len(tokens)
    assert all(_token_bits(t) >= 128 for t in tokens)
    assert all(len(t) <= 64 for t in tokens)  # fits the column and get_by_token's limit

    # The body's characters are spread over the whole URL-safe alphabet (random, not a counter):
    # roughly 6 bits of entropy per character.
    bodies = "".join(t[len(TOKEN_PREFIX) : -1] for t in tokens)  # last char carries fewer bits
    counts = Counter(bodies)
    assert len(counts) == 64
    total = sum(counts.values())
    entropy = -sum(c / total * math.log2(c / total) for c in counts.values())
    assert entropy > 5.9
    # No shared prefix beyond "wt_": tokens are not sequential.
    assert len({t[:6] for t in tokens}) > 1000
