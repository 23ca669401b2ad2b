"""Inbox settings (typed, validated on every write) and the inbox service: tokens, domains."""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db.models import Inbox
from messenger.errors import InvalidInputError, NotFoundError
from messenger.inboxes.service import (
    TOKEN_PREFIX,
    InboxService,
    embed_snippet,
    inbox_settings,
    new_widget_token,
)
from messenger.inboxes.settings import (
    DEFAULT_CONTENT_TYPES,
    FORBIDDEN_CONTENT_TYPES,
    normalize_settings,
    parse_settings,
)
from tests.factories import make_branch, make_inbox


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


async def test_model_refuses_bad_settings_on_assignment(
    db_session: AsyncSession, settings: Settings
):
    inbox = await make_inbox(db_session, domains=["shop.example"])
    before = dict(inbox.settings)
    for bad in (
        {"attachments": {"content_types": ["image/svg+xml"]}},
        {"working_hours": {"timezone": "Mars/Base"}},
        {"security": {"allowed_domains": ["evil.example/"]}},
        {"extra": True},
    ):
        with pytest.raises(InvalidInputError):
            inbox.settings = bad
        assert inbox.settings == before
    await db_session.commit()
    rows = await _committed_settings(settings, inbox.id)
    assert rows["security"]["allowed_domains"] == ["shop.example"]


async def test_model_normalises_good_settings_on_assignment(db_session: AsyncSession):
    inbox = await make_inbox(db_session)
    inbox.settings = {"security": {"allowed_domains": ["WWW.Shop.Example."]}, "locale": "en"}
    assert inbox.settings["security"]["allowed_domains"] == ["www.shop.example"]
    assert inbox.settings["attachments"]["content_types"] == DEFAULT_CONTENT_TYPES
    await db_session.commit()
    await db_session.refresh(inbox)
    assert inbox_settings(inbox).locale == "en"


async def test_update_settings_refuses_bad_documents_and_keeps_the_old_one(
    db_session: AsyncSession, settings: Settings
):
    inbox = await make_inbox(db_session, settings={"greeting": "Hello"})
    service = InboxService(session=db_session)
    with pytest.raises(InvalidInputError):
        await service.update_settings(inbox.id, {"attachments": {"content_types": ["text/html"]}})
    assert (await _committed_settings(settings, inbox.id))["greeting"] == "Hello"

    await service.update_settings(inbox.id, {"greeting": "Привет"})
    await db_session.commit()  # the caller's unit of work commits, never the service
    stored = await _committed_settings(settings, inbox.id)
    assert stored["greeting"] == "Привет"
    assert stored["security"]["allowed_domains"] == []  # a full replacement, not a merge


async def _committed_settings(settings: Settings, inbox_id: int) -> dict[str, Any]:
    import json

    conn = await asyncpg.connect(settings.effective_database_url.replace("+asyncpg", ""))
    try:
        value = await conn.fetchval("SELECT settings FROM inboxes WHERE id = $1", inbox_id)
    finally:
        await conn.close()
    return json.loads(value) if isinstance(value, str) else value


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


async def test_create_inbox(db_session: AsyncSession):
    moscow = await make_branch(db_session, "Moscow")
    inbox = await make_inbox(
        db_session, name="  Shop  ", branch=moscow, domains=["Shop.Example", "*.shop.example"]
    )
    assert inbox.name == "Shop"
    assert inbox.branch_id == moscow.id
    assert not inbox.is_global
    assert inbox.is_active
    assert _token_bits(inbox.widget_token) >= 128
    assert inbox_settings(inbox).security.allowed_domains == ["shop.example", "*.shop.example"]
    snippet = embed_snippet(inbox, "https://crm.example/")
    assert f'data-widget-token="{inbox.widget_token}"' in snippet
    assert 'src="https://crm.example/static/messenger/widget.js"' in snippet


async def test_create_inbox_merges_domains_into_given_settings(db_session: AsyncSession):
    inbox = await make_inbox(
        db_session,
        domains=["b.example"],
        settings={"security": {"allowed_domains": ["a.example"]}, "greeting": "Hi"},
    )
    assert inbox.settings["security"]["allowed_domains"] == ["a.example", "b.example"]
    assert inbox.settings["greeting"] == "Hi"


async def test_tokens_of_many_inboxes_are_unique(db_session: AsyncSession):
    inboxes = [await make_inbox(db_session, name=f"Site {i}") for i in range(25)]
    assert len({i.widget_token for i in inboxes}) == 25


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 201},
        {"domains": ["https://shop.example"]},
        {"settings": {"attachments": {"content_types": ["text/html"]}}},
    ],
)
async def test_create_inbox_refuses_bad_input(db_session: AsyncSession, kwargs: dict[str, Any]):
    with pytest.raises(InvalidInputError):
        await make_inbox(db_session, **kwargs)
    await db_session.rollback()
    assert await InboxService(session=db_session).count() == 0


async def test_a_fallback_branch_is_only_for_global_inboxes(db_session: AsyncSession):
    moscow = await make_branch(db_session, "Moscow")
    kazan = await make_branch(db_session, "Kazan")
    with pytest.raises(InvalidInputError):
        await make_inbox(db_session, branch=moscow, fallback=kazan)
    inbox = await make_inbox(db_session, fallback=kazan)
    assert inbox.is_global
    assert inbox.fallback_branch_id == kazan.id


async def test_get_by_token(db_session: AsyncSession):
    inbox = await make_inbox(db_session)
    other = await make_inbox(db_session, name="Other")
    service = InboxService(session=db_session)
    found = await service.get_by_token(inbox.widget_token)
    assert found is not None
    assert found.id == inbox.id
    for wrong in (
        "",
        TOKEN_PREFIX,
        inbox.widget_token[len(TOKEN_PREFIX) :],  # without the prefix
        inbox.widget_token + "x",
        inbox.widget_token[:-1],
        inbox.widget_token.upper(),
        TOKEN_PREFIX + "x" * 100,
    ):
        assert await service.get_by_token(wrong) is None, wrong
    assert (await service.get_by_token(other.widget_token)).id == other.id


async def test_a_deactivated_inbox_has_no_token(db_session: AsyncSession):
    inbox = await make_inbox(db_session)
    inbox.is_active = False
    await db_session.commit()
    assert await InboxService(session=db_session).get_by_token(inbox.widget_token) is None


async def test_rotate_token(db_session: AsyncSession, settings: Settings):
    inbox = await make_inbox(db_session)
    service = InboxService(session=db_session)
    old = inbox.widget_token
    assert inbox.token_rotated_at is None

    rotated = await service.rotate_token(inbox.id)
    new = rotated.widget_token
    assert new != old
    assert _token_bits(new) >= 128
    assert rotated.token_rotated_at is not None
    assert await service.get_by_token(old) is None
    assert (await service.get_by_token(new)).id == inbox.id

    await db_session.commit()
    conn = await asyncpg.connect(settings.effective_database_url.replace("+asyncpg", ""))
    try:
        stored = await conn.fetchval("SELECT widget_token FROM inboxes WHERE id = $1", inbox.id)
    finally:
        await conn.close()
    assert stored == new

    again = await service.rotate_token(inbox.id)
    assert again.widget_token not in {old, new}
    assert await service.get_by_token(new) is None


async def test_rotate_an_unknown_inbox(db_session: AsyncSession):
    with pytest.raises(NotFoundError):
        await InboxService(session=db_session).rotate_token(424242)


async def test_set_domains_replaces_the_list_and_keeps_the_rest(
    db_session: AsyncSession, settings: Settings
):
    inbox = await make_inbox(db_session, domains=["old.example"], settings={"greeting": "Hi"})
    inbox_id = inbox.id
    service = InboxService(session=db_session)
    updated = await service.set_domains(inbox_id, ["New.Example", "*.new.example", "new.example"])
    assert updated.settings["security"]["allowed_domains"] == ["new.example", "*.new.example"]
    await db_session.commit()
    stored = await _committed_settings(settings, inbox_id)
    assert stored["security"]["allowed_domains"] == ["new.example", "*.new.example"]
    assert stored["greeting"] == "Hi"

    with pytest.raises(InvalidInputError):
        await service.set_domains(inbox_id, ["good.example", "bad.example/path"])
    await db_session.rollback()
    stored = await _committed_settings(settings, inbox_id)
    assert stored["security"]["allowed_domains"] == ["new.example", "*.new.example"]

    await service.set_domains(inbox_id, [])
    await db_session.commit()
    assert (await _committed_settings(settings, inbox_id))["security"]["allowed_domains"] == []
