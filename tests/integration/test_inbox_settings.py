"""Inbox settings (typed, validated on every write) and the inbox service: tokens, domains."""

from __future__ import annotations

import base64
import re
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.errors import InvalidInputError, NotFoundError
from messenger.inboxes.service import (
    TOKEN_PREFIX,
    InboxService,
    embed_snippet,
    inbox_settings,
)
from messenger.inboxes.settings import (
    DEFAULT_CONTENT_TYPES,
)
from tests.support.factories import make_branch, make_inbox


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
