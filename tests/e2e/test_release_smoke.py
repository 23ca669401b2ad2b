"""The release smoke: one conversation from both sides, in real browsers, on one live server.

An operator signs in to the dashboard (an en-US browser) and keeps the unified messenger
open; a visitor on a customer page of another origin writes through the widget (another
browser context). Everything in between goes through the live ``messenger serve`` process,
PostgreSQL and Redis: the list refreshes over the staff stream, the reply reaches the widget
over the widget's stream, the widget's read receipt comes back to the dashboard's ticks, and
a note stays on the staff side.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from messenger.db.models import (
    Conversation,
    ConversationPriority,
    ConversationStatus,
    MessageKind,
)
from tests.e2e.conftest import (
    Pages,
    Site,
    message_log,
    open_chat,
    send,
    staff_sign_in,
)
from tests.e2e.conftest import (
    composer as widget_composer,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

#: How long a live update (over Redis and two streams) may take to show.
LIVE = 15_000

#: htmx's classes of content being swapped in: its behaviours are attached once they are gone.
SWAPPING = re.compile(r"\bhtmx-(added|settling|swapping|request)\b")


async def settled(locator: Any) -> Any:
    """The element, once htmx has finished swapping it in (a new select reacts to changes only
    after htmx processed it, one settle delay after the swap: no person is that quick)."""
    await expect(locator).not_to_have_class(SWAPPING)
    return locator


async def test_release_smoke(widget_site: Any, open_page: Pages) -> None:
    site: Site = await widget_site()
    server = site.server.url

    # --- the operator signs in and opens the unified messenger -----------------------------
    desk = await open_page.open(locale="en-US")
    async with desk.expect_response(lambda r: r.url.startswith(f"{server}/dashboard/stream")):
        await staff_sign_in(desk, server, site.operator.email)
    listing = desk.locator("#conversation-list")
    await expect(listing).to_contain_text("No conversations here.")
    await desk.evaluate("() => { window.__sameDocument = true; }")

    # --- a visitor writes from the customer's page -------------------------------------------
    visitor = await open_page.open(site.page(), locale="en-US")
    await open_chat(visitor)
    await send(visitor, "Hello, where is my order 1042?")
    await expect(message_log(visitor).get_by_role("img", name="Sent", exact=True)).to_be_visible()

    # --- it appears in the operator's list, live (no reload) ---------------------------------
    item = listing.locator(".conversation-item")
    await expect(item).to_have_count(1, timeout=LIVE)
    await expect(item).to_contain_text("Hello, where is my order 1042?")
    assert await desk.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    conversation = await site.desk.conversation(site.inbox.id)
    await expect(item).to_have_id(f"conv-{conversation.id}")

    # --- the operator opens it --------------------------------------------------------------
    async with desk.expect_response(
        lambda r: r.url.startswith(f"{server}/dashboard/stream?conversation={conversation.id}&")
    ):
        await item.get_by_role("link").click()
    await expect(desk).to_have_url(f"{server}/conversations/{conversation.id}")
    history = desk.locator("#history")
    await expect(history.locator("article.visitor")).to_contain_text(
        "Hello, where is my order 1042?"
    )

    # --- "Assign me", status, priority ------------------------------------------------------
    controls = desk.locator("#controls")
    await (await settled(controls)).get_by_role("button", name="Assign me").click()
    await expect(controls.get_by_role("button", name="Assign me")).to_have_count(0)
    await expect(controls.locator("select[name=assignee_id]")).to_have_value(str(site.operator.id))
    await (await settled(controls)).locator("select[name=status]").select_option("pending")
    await expect(controls.locator(".pill.status-pending")).to_have_text("Pending")
    await (await settled(controls)).locator("select[name=priority]").select_option("high")
    await expect(controls.locator(".pill.priority-high")).to_have_text("High")
    await expect(controls.locator(".pill.status-pending")).to_have_text("Pending")
    await expect(controls.locator("select[name=status]")).to_have_value("pending")
    await expect(controls.locator("select[name=priority]")).to_have_value("high")
    async with site.desk.config.get_session() as db:
        stored = await db.get(Conversation, conversation.id)
        assert stored is not None
        assert (stored.assignee_id, stored.status, stored.priority) == (
            site.operator.id,
            ConversationStatus.PENDING,
            ConversationPriority.HIGH,
        )

    # --- a reply: live on the widget, then read there, and the dashboard shows it read --------
    composer = desk.locator("#composer")
    await composer.locator("textarea[name=body]").fill("It ships today, tracking follows.")
    await composer.get_by_role("button", name="Send").click()
    reply = history.locator("article.operator").filter(has_text="It ships today")
    await expect(reply).to_have_count(1)
    reply_id = int(await reply.get_attribute("data-id") or 0)
    await expect(
        message_log(visitor).get_by_text("It ships today, tracking follows.")
    ).to_be_visible(timeout=LIVE)
    ticks = desk.locator(f"#ticks-{reply_id}")
    await expect(ticks).to_have_class(re.compile(r"\bread\b"), timeout=LIVE)
    await expect(ticks).to_have_attribute("title", "Read")
    await expect(reply).to_have_count(1)  # the stream's copy of our own reply is not doubled

    # later live events still reach the open conversation (here the visitor's typing)
    await widget_composer(visitor).press_sequentially("Thank")
    await expect(desk.locator("#typing-indicator")).to_have_text(
        "The visitor is typing…", timeout=LIVE
    )
    await widget_composer(visitor).fill("")

    # --- a note: shown distinct here, never on the widget ---------------------------------------
    await composer.get_by_role("radio", name="Note").check()
    await composer.locator("textarea[name=body]").fill("VIP customer, check the warehouse")
    await composer.get_by_role("button", name="Send").click()
    note = history.locator("article.note")
    await expect(note).to_have_count(1)
    await expect(note).to_contain_text("VIP customer, check the warehouse")
    await expect(note.locator(".note-label")).to_have_text("Note")
    await expect(reply).not_to_have_class(re.compile(r"\bnote\b"))
    note_style = await note.evaluate("el => getComputedStyle(el).borderStyle")
    reply_style = await reply.evaluate("el => getComputedStyle(el).borderStyle")
    assert note_style != reply_style, (note_style, reply_style)
    # the composer is back on "Message" for the next one (the form was reset)
    await expect(composer.get_by_role("radio", name="Message")).to_be_checked()
    stored_note = [m for m in await site.desk.messages(conversation.id) if "VIP" in m.body]
    assert [m.kind for m in stored_note] == [MessageKind.NOTE]

    # A later reply reaches the widget: the note, written before it, would have too.
    await composer.locator("textarea[name=body]").fill("Anything else?")
    await composer.get_by_role("button", name="Send").click()
    log = message_log(visitor)
    await expect(log.get_by_text("Anything else?")).to_be_visible(timeout=LIVE)
    await expect(log.get_by_text("VIP customer")).to_have_count(0)
    await expect(visitor.get_by_text("VIP customer")).to_have_count(0)

    await visitor.reload()
    await open_chat(visitor)
    await expect(log.get_by_text("It ships today, tracking follows.")).to_be_visible()
    await expect(log.get_by_text("Anything else?")).to_be_visible()
    await expect(log.get_by_text("Hello, where is my order 1042?")).to_be_visible()
    await expect(visitor.get_by_text("VIP customer")).to_have_count(0)
    shown = await visitor.evaluate(
        "() => document.querySelector('profi-messenger').shadowRoot.textContent"
    )
    assert "Anything else?" in shown
    assert "VIP" not in shown
