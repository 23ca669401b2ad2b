"""The widget in a real browser: signed identity (identify before and after load, logout in
every tab), the pre-chat form, and the satisfaction rating seen live by the operator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.contacts.identity import identity_hash
from messenger.db.models import Visitor
from tests.e2e.conftest import (
    STUB_SNIPPET,
    Pages,
    Site,
    composer,
    dialog,
    launcher,
    message_log,
    open_chat,
    send,
    staff_sign_in,
)
from tests.support.widget import fresh

pytestmark = [pytest.mark.timeout(120), pytest.mark.e2e]


def identity_of(site: Site, identifier: str, **extra: Any) -> dict[str, Any]:
    """What the host site's server renders into its page (the hash is never made in JS)."""
    return {
        "identifier": identifier,
        "identity_hash": identity_hash(site.inbox.identity_secret, identifier),
        **extra,
    }


def identified_page(site: Site, identity: dict[str, Any]) -> str:
    script = f"<script>{STUB_SNIPPET}ProfiMessenger.identify({json.dumps(identity)});</script>"
    return site.page(head=script, hostile=False)


async def test_identify_before_and_after_load_share_one_history(
    widget_site: Any, open_page: Pages, db_session: AsyncSession
) -> None:
    site: Site = await widget_site()
    laptop = await open_page.open(identified_page(site, identity_of(site, "crm-1", name="Anna")))
    await open_chat(laptop)
    await send(laptop, "Sent from the laptop")
    conversation = await site.desk.conversation(site.inbox.id)
    visitor = await fresh(db_session, Visitor, conversation.visitor_id)
    assert visitor.name == "Anna"

    phone = await open_page.open(site.page(hostile=False))  # another device, identified later
    await phone.evaluate("(i) => window.ProfiMessenger.identify(i)", identity_of(site, "crm-1"))
    await open_chat(phone)
    await expect(message_log(phone)).to_contain_text("Sent from the laptop")


async def test_logout_in_one_tab_ends_the_identity_in_every_tab(
    widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site()
    url = identified_page(site, identity_of(site, "crm-2"))
    first = await open_page.open(url)
    await open_chat(first)
    await send(first, "Private order question")
    await site.desk.conversation(site.inbox.id)
    second: Page = await first.context.new_page()
    await second.goto(url)
    await open_chat(second)
    await expect(message_log(second)).to_contain_text("Private order question")

    await first.evaluate("() => window.ProfiMessenger.logout()")
    for page in (first, second):
        await expect(message_log(page)).not_to_contain_text("Private order question")
    stored = await second.evaluate(
        "(k) => JSON.parse(localStorage.getItem(k) || '{}')", f"profi-messenger:{site.token}"
    )
    assert "i" not in stored


async def test_prechat_form_requires_fields_and_consent(
    widget_site: Any, open_page: Pages, db_session: AsyncSession
) -> None:
    site: Site = await widget_site(
        inbox_settings={
            "privacy": {"url": "https://shop.example/privacy"},
            "prechat": {
                "enabled": True,
                "fields": [
                    {"name": "name", "required": True},
                    {"name": "email", "required": True},
                    {"name": "consent", "required": True},
                ],
            },
        }
    )
    page = await open_page.open(site.page(hostile=False))
    await launcher(page).click()
    form = dialog(page).locator("form.pc")
    await expect(form).to_be_visible()
    await expect(composer(page)).to_be_hidden()
    await expect(form.locator("a")).to_have_attribute("href", "https://shop.example/privacy")
    await form.locator("input[name=name]").fill("Pavel")
    await form.locator("input[name=email]").fill("pavel@example")
    await form.locator("button[type=submit]").click()
    await expect(form.get_by_role("alert")).to_have_text("Please check the fields.")
    await form.locator("input[name=email]").fill("pavel@example.com")
    await form.locator("button[type=submit]").click()
    await expect(form.get_by_role("alert")).to_contain_text("consent")
    await form.locator("input[name=consent]").check()
    await form.locator("button[type=submit]").click()
    await expect(form).to_be_hidden()
    await expect(composer(page)).to_be_visible()
    await send(page, "Hello after the form")
    conversation = await site.desk.conversation(site.inbox.id)
    visitor = await fresh(db_session, Visitor, conversation.visitor_id)
    assert (visitor.name, visitor.email) == ("Pavel", "pavel@example.com")
    assert visitor.consent_at is not None


async def test_csat_after_resolve_is_seen_live_by_the_operator(
    widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site()
    page = await open_page.open(site.page(hostile=False))
    await open_chat(page)
    await send(page, "Thanks for the help")
    conversation = await site.desk.conversation(site.inbox.id)

    staff = await open_page.open()
    await staff_sign_in(staff, site.server.url, "olga@example.com")
    await staff.goto(f"{site.server.url}/conversations/{conversation.id}")
    await expect(staff.locator("#csat")).to_contain_text("Not rated")

    await site.desk.set_status(conversation.id, site.operator.id, "resolved")
    rating = dialog(page).locator("form.cs")
    await expect(rating).to_be_visible()
    # keyboard only: focus the first star, arrow to the fourth, type a comment, submit
    await rating.locator("input[type=radio]").first.focus()
    await page.keyboard.press("Space")
    for _ in range(3):
        await page.keyboard.press("ArrowRight")
    await expect(rating.locator("input[value='4']")).to_be_checked()
    await rating.locator("textarea").fill("Fast and kind")
    await rating.locator("button[type=submit]").click()
    await expect(rating).to_contain_text("Thank you for your rating!")

    await expect(staff.locator("#csat .csat-rating")).to_have_attribute("data-rating", "4")
    await expect(staff.locator("#csat")).to_contain_text("Fast and kind")
