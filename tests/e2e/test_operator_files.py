"""Files from operators in the browser (issue 14, item 3): the operator attaches files from
the composer with the button, by dropping them and by pasting them; they go with the reply
and appear in the visitor's widget as download links whose download is inert."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import Pages, Site, dialog, message_log, open_chat, send, staff_sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

FILES = {"enabled": True, "max_bytes": 4096, "content_types": ["text/plain", "application/pdf"]}

#: A file handed to the page the way a drop or a paste hands it: a DataTransfer.
HAND_OVER = """([kind, name, text]) => {
  const data = new DataTransfer();
  data.items.add(new File([text], name, { type: "text/plain" }));
  const target = document.querySelector("#composer textarea[name=body]");
  const event = kind === "paste"
    ? new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true })
    : new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true });
  target.dispatchEvent(event);
}"""


async def staff_page(site: Site, pages: Pages, conversation_id: str) -> Page:
    page = await pages.open(locale="en-US")
    await staff_sign_in(page, site.server.url, site.operator.email)
    await page.goto(f"{site.server.url}/conversations/{conversation_id}")
    return page


async def test_an_operators_files_reach_the_widget_as_downloads(
    widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site(inbox_settings={"attachments": FILES})
    visitor_page = await open_page.open(site.page())
    await open_chat(visitor_page)
    await send(visitor_page, "Can you send me the price list?")
    conversation = await site.desk.conversation(site.inbox.id)
    staff = await staff_page(site, open_page, str(conversation.id))
    form = staff.locator("#composer")

    # The button.
    await form.locator("#composer-file").set_input_files(
        {"name": "prices.txt", "mimeType": "text/plain", "buffer": b"tea: 5 EUR"}
    )
    await expect(form.locator(".composer-file")).to_have_count(1)
    # Dropped and pasted files join it.
    await staff.evaluate(HAND_OVER, ["drop", "dropped.txt", "from a drop"])
    await staff.evaluate(HAND_OVER, ["paste", "pasted.txt", "from the clipboard"])
    await expect(form.locator(".composer-file")).to_have_count(3)
    # One removed again before sending.
    await form.locator(".composer-file").filter(has_text="pasted.txt").get_by_role("button").click()
    await expect(form.locator(".composer-file")).to_have_count(2)
    # A refused type is explained, nothing added.
    await form.locator("#composer-file").set_input_files(
        {"name": "pic.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n...."}
    )
    await expect(form.locator(".composer-files-status")).to_contain_text("not accepted")
    await expect(form.locator(".composer-file")).to_have_count(2)

    await form.locator("textarea[name=body]").fill("Here they are")
    await form.get_by_role("button", name="Send").click()
    await expect(staff.locator("#history article.operator").last).to_contain_text("prices.txt")
    await expect(form.locator(".composer-file")).to_have_count(0)

    # In the widget: the reply with two download links.
    log = message_log(visitor_page)
    await expect(log).to_contain_text("Here they are")
    prices = log.get_by_role("link", name=re.compile(r"prices\.txt"))
    await expect(prices).to_be_visible()
    await expect(log.get_by_role("link", name=re.compile(r"dropped\.txt"))).to_be_visible()
    await expect(dialog(visitor_page).get_by_text("pasted.txt")).to_have_count(0)
    href = await prices.get_attribute("href")
    assert href is not None
    assert href.startswith(f"{site.server.url}/api/widget/attachments/")
    # The download works from the customer's page, and is inert.
    assert (
        await visitor_page.evaluate("href => fetch(href).then(r => r.text())", href) == "tea: 5 EUR"
    )
    async with httpx.AsyncClient(timeout=10) as client:
        download = await client.get(href, headers={"Origin": site.host.origin})
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in download.headers["content-security-policy"]
    assert download.headers["content-type"] == "application/octet-stream"
