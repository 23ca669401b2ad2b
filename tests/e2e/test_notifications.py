"""Notifications in the browser (issue 14, item 1): a new conversation reaches a hidden tab
as a desktop notification (the visitor's name, the first line) and a sound; the sound switch
is saved on the account; the favicon and the title show the unread count; permission is
asked from a button only. ``Notification`` and ``HTMLMediaElement.prototype.play`` are
wrapped by an init script that records each call (the real ones still run)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import User
from tests.e2e.conftest import Pages, Site, staff_sign_in
from tests.support.dashboard import Visitor
from tests.support.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

RECORDER = """
(() => {
  window.__notes = [];
  window.__plays = [];
  window.__asks = 0;
  window.__hidden = false;
  const Real = window.Notification;
  if (Real) {
    function Recorded(title, options) {
      window.__notes.push({ title, body: options && options.body });
      const shown = new Real(title, options);
      window.__lastNote = shown;
      return shown;
    }
    Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
    Recorded.requestPermission = (...args) => { window.__asks += 1; return Real.requestPermission(...args); };
    window.Notification = Recorded;
  }
  HTMLMediaElement.prototype.play = function () {
    window.__plays.push(this.currentSrc || this.src);
    return Promise.resolve();
  };
  Object.defineProperty(document, "hidden", { configurable: true, get: () => window.__hidden });
  Object.defineProperty(document, "visibilityState", {
    configurable: true, get: () => (window.__hidden ? "hidden" : "visible"),
  });
})();
"""


async def hide(page: Page) -> None:
    await page.evaluate(
        "() => { window.__hidden = true; document.dispatchEvent(new Event('visibilitychange')); }"
    )


async def recorded(page: Page, name: str) -> list[Any]:
    value: list[Any] = await page.evaluate(f"() => window.{name}")
    return value


async def test_a_hidden_tab_gets_a_notification_and_a_sound_for_a_new_conversation(
    widget_site: Any, open_page: Pages, db_session: AsyncSession
) -> None:
    site: Site = await widget_site()
    page = await open_page.open(locale="en-US")
    await page.context.grant_permissions(["notifications"], origin=site.server.url)
    await page.add_init_script(RECORDER)
    await staff_sign_in(page, site.server.url, site.operator.email)
    # Granted already: no button; the state says so. Nothing was asked on load.
    await expect(page.locator("#notify-permission")).to_be_hidden()
    await expect(page.locator("#notify-state")).to_have_text("Desktop notifications are on.")
    assert await page.evaluate("() => window.__asks") == 0
    await expect(page.locator("#notify-sound")).to_be_checked()
    await hide(page)

    async with httpx.AsyncClient(base_url=site.server.url, timeout=10) as client:
        visitor = Visitor(client, site.token, site.server.url)
        started = await visitor.offline(
            name="Vera", email="vera@example.com", body="Where is my order?\nIt is late."
        )

        async def notified() -> bool:
            return len(await recorded(page, "__notes")) == 1

        await eventually(notified, within=15)
        assert await recorded(page, "__notes") == [{"title": "Vera", "body": "Where is my order?"}]
        plays = await recorded(page, "__plays")
        assert len(plays) == 1
        assert plays[0].endswith("/static/dashboard/notification.wav")
        # The unread count, live: in the title and on the favicon.
        await expect(page).to_have_title("(1) Conversations · Messenger")
        await expect(page.locator("link[rel=icon]")).to_have_attribute("data-unread", "1")
        assert (await page.locator("link[rel=icon]").get_attribute("href") or "").startswith(
            "data:image/png"
        )

        # The operator turns the sound off: saved on the account; the next one is silent.
        await page.evaluate("() => { window.__hidden = false; }")
        async with page.expect_response(lambda r: r.url.endswith("/account/notifications")):
            await page.locator("#notify-sound").uncheck()
        operator = await db_session.scalar(
            select(User)
            .where(User.id == site.operator.id)
            .execution_options(populate_existing=True)
        )
        assert operator is not None
        assert operator.notification_sound is False
        await hide(page)
        await visitor.send("Hello?\nAnyone?")

        async def twice() -> bool:
            return len(await recorded(page, "__notes")) == 2

        await eventually(twice, within=15)
        assert (await recorded(page, "__notes"))[1] == {"title": "Vera", "body": "Hello?"}
        assert len(await recorded(page, "__plays")) == 1

    # A click on the notification focuses the tab and opens the conversation.
    await page.evaluate("() => window.__lastNote.onclick()")
    await expect(page).to_have_url(f"{site.server.url}/conversations/{started['conversation_id']}")
    await page.reload()
    await expect(page.locator("#notify-sound")).not_to_be_checked()  # the saved choice


async def test_permission_is_asked_from_the_button_only(widget_site: Any, open_page: Pages) -> None:
    site: Site = await widget_site()
    page = await open_page.open(locale="en-US")
    await page.add_init_script(RECORDER)
    await staff_sign_in(page, site.server.url, site.operator.email)
    button = page.locator("#notify-permission")
    await expect(button).to_be_visible()
    await page.locator("#conversation-list").click()  # a click elsewhere asks nothing
    assert await page.evaluate("() => window.__asks") == 0
    await button.click()

    async def asked() -> bool:
        return await page.evaluate("() => window.__asks") == 1

    await eventually(asked, within=5)
