"""Issue 14, item 8, in the browser: the dashboard on a phone (390x844) and the unified
messenger's keyboard shortcuts.

- Phone: one column — the list; a tapped conversation replaces it (with a back link); the
  visitor panel is behind a button; no horizontal scrolling on any staff page; the controls
  one taps are at least 40 px high; a reply can be written and sent.
- Desktop above 700 px keeps its columns (list, conversation and visitor panel side by side).
- Keyboard: j/k move through the list, a assigns me, r focuses the reply, n switches
  message/note, e resolves, ? opens the list of shortcuts (a modal dialog Esc closes);
  keys typed into the composer stay text.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from tests.e2e.conftest import Pages
from tests.e2e.staff_pages import Staffed, horizontal_overflow, staff_page, staffed_site

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

#: Set to a folder to keep a picture of each phone page (a look by eye, not an assertion).
SHOTS = os.environ.get("MESSENGER_TEST_SHOTS")

#: Every staff page at phone width ({conversation}, {inbox}: filled in by the test).
PHONE_PAGES = [
    "/conversations",
    "/conversations/{conversation}",
    "/account",
    "/admin/inboxes",
    "/admin/inboxes/{inbox}",
    "/admin/branches",
    "/admin/operators",
]

#: What one taps on a phone page; each must be at least 40 px high.
TAPPABLE = (
    "button:visible, select:visible, a:visible, "
    "input:visible:not([type=hidden]):not([type=radio]):not([type=checkbox]), "
    "label:visible:has(> input[type=radio]), label:visible:has(> input[type=checkbox])"
)

SMALL_TARGETS = """els => els
  .filter(e => !e.closest('dialog:not([open])') && !e.closest('.message, .visitor-panel dd'))
  .filter(e => e.getBoundingClientRect().height < 40 && e.getBoundingClientRect().width > 0)
  .map(e => e.outerHTML.slice(0, 90))"""


async def _shot(page: Page, name: str) -> None:
    if SHOTS:
        await page.screenshot(path=os.path.join(SHOTS, f"{name}.png"))


async def _staffed(widget_site: Any, db_session: AsyncSession) -> Staffed:
    return await staffed_site(await widget_site(), db_session)


async def test_on_a_phone_the_list_opens_a_conversation_and_goes_back(
    widget_site: Any, open_page: Pages, db_session: AsyncSession
) -> None:
    staffed = await _staffed(widget_site, db_session)
    page = await staff_page(open_page, staffed, "phone")
    list_pane = page.locator(".list-pane")
    rows = page.locator("#conversation-list > .conversation-item")
    await expect(rows).to_have_count(2)
    await expect(list_pane).to_be_visible()
    await expect(page.locator("#pane")).to_be_hidden()
    assert await horizontal_overflow(page) == 0
    await _shot(page, "phone-list")

    # A tap opens the conversation in place of the list.
    await page.locator(f"#conv-{staffed.conversations[-1]} a").click()
    conversation = page.locator(".conversation")
    await expect(conversation).to_be_visible()
    await expect(page.locator("#history")).to_contain_text("Do you deliver to Kazan?")
    await expect(list_pane).to_be_hidden()
    await expect(page.locator("#composer textarea")).to_be_visible()
    assert await horizontal_overflow(page) == 0
    await _shot(page, "phone-conversation")

    # The visitor panel is behind a button, shown in place of the thread and back.
    panel = page.locator(".visitor-panel")
    toggle = page.get_by_role("button", name="Visitor details")
    await expect(panel).to_be_hidden()
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await toggle.click()
    await expect(panel).to_be_visible()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(page.locator(".thread")).to_be_hidden()
    assert await horizontal_overflow(page) == 0
    await _shot(page, "phone-visitor-panel")
    await toggle.click()
    await expect(panel).to_be_hidden()
    await expect(page.locator(".thread")).to_be_visible()

    # The composer works: a reply is sent and shown.
    await page.locator("#composer textarea").fill("We deliver to Kazan in two days.")
    await page.locator("#composer").get_by_role("button", name="Send").click()
    await expect(page.locator("#history article.operator").last).to_contain_text("Kazan in two")
    assert await horizontal_overflow(page) == 0

    # Back to the list.
    await page.get_by_role("link", name="All conversations").click()
    await expect(page).to_have_url(f"{staffed.site.server.url}/conversations")
    await expect(list_pane).to_be_visible()
    await expect(rows).to_have_count(2)
    await expect(conversation).to_have_count(0)


@pytest.mark.parametrize("locale", ["en-US", "ru-RU"])
async def test_every_staff_page_fits_a_phone_with_tap_targets_40px_high(
    locale: str, widget_site: Any, open_page: Pages, db_session: AsyncSession
) -> None:
    staffed = await _staffed(widget_site, db_session)
    signed_out = await staff_page(open_page, staffed, "phone", sign_in=False, locale=locale)
    await signed_out.goto(staffed.site.server.url + "/login")
    found: dict[str, Any] = {}
    found["/login"] = (
        await horizontal_overflow(signed_out),
        await signed_out.locator(TAPPABLE).evaluate_all(SMALL_TARGETS),
    )
    page = await staff_page(open_page, staffed, "phone", locale=locale)
    for path in PHONE_PAGES:
        url = path.format(conversation=staffed.conversations[-1], inbox=staffed.site.inbox.id)
        await page.goto(staffed.site.server.url + url)
        await expect(page.locator("main")).to_be_visible()
        found[path] = (
            await horizontal_overflow(page),
            await page.locator(TAPPABLE).evaluate_all(SMALL_TARGETS),
        )
        name = path.replace("/", "-").replace("{", "").replace("}", "")
        await _shot(page, f"phone-{locale}{name}")
    assert found == {path: (0, []) for path in found}


async def test_above_700px_the_desktop_keeps_its_columns(
    widget_site: Any, open_page: Pages, db_session: AsyncSession
) -> None:
    staffed = await _staffed(widget_site, db_session)
    page = await staff_page(open_page, staffed, "desktop")
    await page.goto(f"{staffed.site.server.url}/conversations/{staffed.conversations[-1]}")
    list_box = await page.locator(".list-pane").bounding_box()
    thread_box = await page.locator(".thread").bounding_box()
    panel_box = await page.locator(".visitor-panel").bounding_box()
    assert list_box is not None
    assert thread_box is not None
    assert panel_box is not None
    assert list_box["x"] + list_box["width"] <= thread_box["x"]
    assert thread_box["x"] + thread_box["width"] <= panel_box["x"]
    assert list_box["y"] == pytest.approx(thread_box["y"], abs=2)
    await expect(page.locator(".phone-bar")).to_be_hidden()
    # Just above the breakpoint, still columns.
    await page.set_viewport_size({"width": 760, "height": 800})
    await expect(page.locator(".list-pane")).to_be_visible()
    await expect(page.locator(".phone-bar")).to_be_hidden()


async def test_keyboard_shortcuts_act_and_stay_out_of_the_composer(
    widget_site: Any, open_page: Pages, db_session: AsyncSession
) -> None:
    staffed = await _staffed(widget_site, db_session)
    server = staffed.site.server.url
    older, newest = staffed.conversations
    page = await staff_page(open_page, staffed, "desktop")
    body = page.locator("body")
    active = page.locator("#conversation-list > .conversation-item.active")

    # j opens the first conversation of the list (the newest), j again the next one, k back.
    await body.press("j")
    await expect(page).to_have_url(f"{server}/conversations/{newest}")
    await expect(active).to_have_attribute("id", f"conv-{newest}")
    await body.press("j")
    await expect(page).to_have_url(f"{server}/conversations/{older}")
    await expect(active).to_have_attribute("id", f"conv-{older}")
    await body.press("k")
    await expect(page).to_have_url(f"{server}/conversations/{newest}")
    await expect(page.locator("#history")).to_contain_text("Do you deliver to Kazan?")

    # a: assign me.
    controls = page.locator("#controls")
    await expect(controls.get_by_role("button", name="Assign me")).to_be_visible()
    await body.press("a")
    await expect(controls.locator("select[name=assignee_id]")).to_have_value(str(staffed.admin.id))
    await expect(controls.get_by_role("button", name="Assign me")).to_have_count(0)

    # r: focus the reply; typing j there is text, not a move.
    composer = page.locator("#composer textarea")
    await body.press("r")
    await expect(composer).to_be_focused()
    await expect(composer).to_have_value("")
    await composer.press_sequentially("jk jk")
    await expect(composer).to_have_value("jk jk")
    await expect(page).to_have_url(f"{server}/conversations/{newest}")
    # Esc leaves the field; the shortcuts work again.
    await composer.press("Escape")
    await expect(composer).not_to_be_focused()

    # n: message <-> note (and the reply field gets the focus).
    note = page.locator("#composer input[name=kind][value=note]")
    await expect(note).not_to_be_checked()
    await body.press("n")
    await expect(note).to_be_checked()
    await expect(composer).to_be_focused()
    await composer.press("Escape")
    await body.press("n")
    await expect(note).not_to_be_checked()
    await expect(page.locator("#composer input[name=kind][value=message]")).to_be_checked()
    await composer.press("Escape")
    await expect(composer).to_have_value("jk jk")

    # e: resolve.
    await body.press("e")
    await expect(controls.locator("select[name=status]")).to_have_value("resolved")
    await expect(controls.locator(".pill.status-resolved")).to_be_visible()
    await page.reload()
    await expect(page.locator("#controls select[name=status]")).to_have_value("resolved")

    # ?: the list of shortcuts, a modal dialog; keys do nothing behind it; Esc closes it.
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(dialog).to_be_hidden()
    await page.locator("body").press("?")
    await expect(dialog).to_be_visible()
    for key in ("j", "k", "a", "r", "n", "e", "Esc"):
        await expect(dialog.locator("kbd", has_text=key).first).to_be_visible()
    await expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    await page.keyboard.press("j")
    await expect(page).to_have_url(f"{server}/conversations/{newest}")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    # ... and the button under the list opens it too.
    await page.get_by_role("button", name="Keyboard shortcuts").click()
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()
