"""The visitor e-mails themselves the conversation from the widget; the mail arrives at a
real SMTP server (aiosmtpd) sent by the job worker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import expect

from messenger.config import Settings
from messenger.worker.runner import Worker
from tests.e2e.conftest import Pages, Site, dialog, open_chat, send
from tests.e2e.staff_pages import axe_violations
from tests.support.mail import Mailbox, smtp_server, text_and_html, work_until

pytestmark = [pytest.mark.timeout(120), pytest.mark.e2e]

SUBJECT = "Transcript of your conversation"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as server:
        yield server


async def test_the_visitor_gives_an_address_and_the_transcript_is_mailed(
    widget_site: Any, open_page: Pages, env: dict[str, str], smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    mail_env = {
        "MESSENGER_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "MESSENGER_MAIL_FROM": "Shop support <support@shop.example>",
    }
    site: Site = await widget_site(**mail_env)
    page = await open_page.open(site.page(hostile=False))
    await open_chat(page)
    box = dialog(page).locator(".tr")
    await expect(box).to_be_hidden()  # nothing to send before the first message
    await send(page, "Where is my parcel?")
    conversation = await site.desk.conversation(site.inbox.id)
    await site.desk.note(conversation.id, site.operator.id, "staff only: courier is late")
    await site.desk.reply(conversation.id, site.operator.id, "It ships today.")

    ask = dialog(page).get_by_role("button", name="E-mail me this conversation")
    await expect(ask).to_be_visible()
    await ask.click()
    # The server knows no address: the widget asks for one, focus in the field.
    address = dialog(page).get_by_label("Send the transcript to")
    await expect(address).to_be_focused()
    await expect(box.get_by_role("alert")).to_have_text(
        "Which e-mail address should we send it to?"
    )
    assert await axe_violations(page) == []  # the button, the field, its label, the alert
    await address.fill("not an address")
    await box.locator("form button[type=submit]").click()
    await expect(box.get_by_role("alert")).to_have_text("Please check the e-mail address.")
    await address.fill("anna@example.com")
    await page.keyboard.press("Enter")
    await expect(box.get_by_role("status")).to_have_text(
        "Done: the conversation is on its way to your e-mail."
    )
    await expect(address).to_be_hidden()
    await expect(box.locator(".er")).to_be_empty()

    worker = Worker(
        Settings.from_env({**env, **mail_env}),
        site.desk.config.get_session,
        site.desk.publisher,
        periodic=[],
    )

    async def arrived() -> list[Any]:
        return mailbox.with_subject(SUBJECT)

    [(mail, to)] = await work_until(worker, arrived)
    assert to == ["anna@example.com"]
    text, _ = text_and_html(mail)
    assert "Where is my parcel?" in text
    assert "It ships today." in text
    assert "staff only" not in text
