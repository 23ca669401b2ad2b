"""Saved replies in the browser (issue 14, item 2): "/" and letters in the composer list the
operator's saved replies; arrows choose, Enter inserts the text with its placeholders
filled; Esc closes the list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import expect
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import SavedReply
from messenger.replies.service import Draft, SavedReplyService
from tests.e2e.conftest import Pages, Site, staff_sign_in
from tests.support.dashboard import Visitor

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


async def test_slash_filters_saved_replies_and_enter_inserts_the_filled_text(
    widget_site: Any, open_page: Pages, db_session: AsyncSession
) -> None:
    site: Site = await widget_site()
    replies = SavedReplyService(db_session)
    # A global reply (an admin's), and two of the operator's own.
    db_session.add(
        SavedReply(shortcut="greet", body="Hello, {visitor_name}! I am {operator_name}.")
    )
    await replies.create(site.operator, Draft("great", "Great, {visitor_name}.", "personal"))
    await replies.create(site.operator, Draft("bye", "Goodbye!", "personal"))
    await db_session.commit()
    async with httpx.AsyncClient(base_url=site.server.url, timeout=10) as client:
        visitor = Visitor(client, site.token, site.server.url)
        sent = await visitor.offline(name="Vera", email="vera@example.com", body="Hi there")
    page = await open_page.open(locale="en-US")
    await staff_sign_in(page, site.server.url, site.operator.email)
    await page.goto(f"{site.server.url}/conversations/{sent['conversation_id']}")

    body = page.locator("#composer textarea[name=body]")
    popup = page.locator("#saved-replies-popup")
    await body.press_sequentially("/gre")
    options = popup.get_by_role("option")
    await expect(options).to_have_count(2)  # "bye" does not start with "gre"
    # The personal reply comes first (the closest scope), and is the one chosen.
    await expect(options.nth(0)).to_contain_text("/great")
    await expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    await expect(body).to_have_attribute("aria-expanded", "true")
    await body.press("ArrowDown")
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    await body.press("Enter")
    await expect(popup).to_be_hidden()
    await expect(body).to_have_value("Hello, Vera! I am Olga.")

    # Esc closes the list and leaves the text as typed.
    await body.fill("")
    await body.press_sequentially("/b")
    await expect(popup.get_by_role("option")).to_have_count(1)
    await body.press("Escape")
    await expect(popup).to_be_hidden()
    await expect(body).to_have_value("/b")

    # The mouse inserts too.
    await body.fill("")
    await body.press_sequentially("/gr")
    await popup.get_by_role("option").filter(has_text="/great").click()
    await expect(body).to_have_value("Great, Vera.")
