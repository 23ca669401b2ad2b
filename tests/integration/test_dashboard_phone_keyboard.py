"""The markup the phone layout and the keyboard shortcuts stand on (issue 14, item 8), over
HTTP in both languages: the conversation's phone bar (back to the list, the visitor panel's
button), the shortcuts dialog, their scripts; the list holds only list items. The behaviour
itself is tested in the browser (tests/e2e/test_phone_and_keyboard.py)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.i18n import translations
from tests.support.app import app_client
from tests.support.dashboard import Visitor, quick_user, signed_in
from tests.support.factories import make_branch, make_inbox

pytestmark = pytest.mark.timeout(60)

ORIGIN = "https://shop.example"

#: strings the page must show, in the page's language (translated by the catalogs)
SHOWN = ["All conversations", "Visitor details", "Keyboard shortcuts", "Next conversation"]


async def _conversation_page(
    env: dict[str, str], db: AsyncSession, locale: str
) -> tuple[str, str, httpx.Response]:
    branch = await make_branch(db, "Alpha")
    operator = await quick_user(db, [branch], email="anna@example.com", name="Anna")
    inbox = await make_inbox(db, name="Alpha shop", branch=branch, domains=["shop.example"])
    await db.commit()
    async with app_client({**env, "MESSENGER_DEFAULT_LOCALE": locale}, relaxed=True) as client:
        visitor = Visitor(client, inbox.widget_token, ORIGIN)
        conversation_id = (await visitor.send("Hello"))["conversation_id"]
        client.headers["Accept-Language"] = locale
        await signed_in(client, operator.email)
        page = await client.get(f"/conversations/{conversation_id}")
        script = await client.get("/static/dashboard/shortcuts.js")
        assert script.status_code == 200
        assert (await client.get("/static/dashboard/layout.js")).status_code == 200
    return conversation_id, page.text, page


@pytest.mark.parametrize("locale", ["en", "ru"])
async def test_the_conversation_page_has_the_phone_bar_and_the_shortcuts_dialog(
    env: dict[str, str], db_session: AsyncSession, locale: str
) -> None:
    _conversation_id, html, page = await _conversation_page(env, db_session, locale)
    assert page.status_code == 200
    shown = translations(locale)
    for text in SHOWN:
        assert shown.gettext(text) in html
        assert locale == "en" or shown.gettext(text) != text, f"{text!r} is not translated"
    assert re.search(r'<a class="back" href="/conversations" hx-boost="true">', html)
    assert re.search(
        r'<button type="button" class="secondary" data-panel-toggle '
        r'aria-controls="visitor-panel" aria-expanded="false">',
        html,
    )
    assert '<aside class="visitor-panel" id="visitor-panel"' in html
    assert '<dialog id="shortcuts" class="shortcuts" aria-labelledby="shortcuts-title">' in html
    for key in ("j", "k", "a", "r", "n", "e", "?", "Esc"):
        assert f"<kbd>{key}</kbd>" in html
    assert '/static/dashboard/shortcuts.js" defer></script>' in html
    assert '/static/dashboard/layout.js" defer></script>' in html


async def test_the_open_conversations_list_holds_only_list_items(
    env: dict[str, str], db_session: AsyncSession
) -> None:
    """The full page once put the live list's out-of-band counters inside the <ul> (and a
    second #list-meta): invalid list markup for screen readers (axe: list)."""
    _conversation_id, html, _page = await _conversation_page(env, db_session, "en")
    listing = html.split('id="conversation-list"', 1)[1].split("</ul>", 1)[0]
    assert "hx-swap-oob" not in listing
    assert html.count('id="list-meta"') == 1
    assert all(tag == "li" for tag in _top_level_tags(listing.split(">", 1)[1]))


def _top_level_tags(fragment: str) -> list[Any]:
    """The tag names of the fragment's top-level elements (good enough for our templates)."""
    tags, depth = [], 0
    for closing, name, self_closing in re.findall(r"<(/?)([a-zA-Z][\w-]*)[^>]*?(/?)>", fragment):
        if closing:
            depth -= 1
            continue
        if depth == 0:
            tags.append(name)
        if not self_closing and name not in {"input", "br", "img", "meta", "link"}:
            depth += 1
    return tags
