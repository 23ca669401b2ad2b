"""The embeddable widget in a real browser, on a customer page of another origin.

Every page here is served by ``host_site`` (127.0.0.1, its own port) with hostile global CSS
and embeds ``widget.js`` from a live ``messenger serve`` process (127.0.0.1, another port):
the visitor's browser talks to the API cross-origin, as on a real site.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from playwright.async_api import Page, Request, expect
from sqlalchemy import select

from messenger.db.models import Attachment, ConversationChannel, Message, Visitor
from tests.e2e.conftest import (
    JS_SHADOW_ACTIVE,
    RELAXED_ENV,
    STUB_SNIPPET,
    Pages,
    Site,
    composer,
    dialog,
    eventually,
    host_page,
    launcher,
    message_log,
    open_chat,
    send,
)
from tests.support.servers import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)

JS_RECORD_EVENTS = """() => {
  window.__events = [];
  for (const name of ['ready', 'open', 'close', 'message', 'unread']) {
    ProfiMessenger.on(name, (arg) => window.__events.push(
      [name, name === 'message' ? arg.body : name === 'unread' ? arg : null]));
  }
}"""


def requests_log(page: Page) -> list[str]:
    seen: list[str] = []

    def record(request: Request) -> None:
        seen.append(f"{request.method} {request.url}")

    page.on("request", record)
    return seen


async def events(page: Page) -> list[list[Any]]:
    return await page.evaluate("() => window.__events")


async def visitor_messages(site: Site, conversation_id: Any) -> list[Message]:
    """What the visitor wrote, as stored (staff-side notes and events left out)."""
    return [m for m in await site.desk.messages(conversation_id) if m.sender.value == "visitor"]


# --- appears, isolated, light ---------------------------------------------------------------


async def test_widget_appears_and_calls_nothing_until_the_visitor_shows_interest(
    widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site()
    page = await open_page.open()
    seen = requests_log(page)
    await page.goto(site.page())
    button = launcher(page)
    await expect(button).to_be_visible()
    await expect(button).to_have_attribute("aria-label", "Open chat")
    box = await button.bounding_box()
    assert box is not None
    # the host's `* { font-size: 40px; box-sizing: content-box }` and `button { width: 333px }`
    # do not reach inside: 56x56 in the bottom-right corner
    assert (round(box["width"]), round(box["height"])) == (56, 56)
    assert box["x"] + box["width"] == pytest.approx(1280 - 20, abs=1)
    assert box["y"] + box["height"] == pytest.approx(900 - 20, abs=1)
    font = await button.evaluate("el => getComputedStyle(el).fontSize")
    assert font != "40px"

    # The page's network went quiet (Playwright's "networkidle" event), not a fixed pause.
    await page.wait_for_load_state("networkidle")
    to_api = [line for line in seen if site.server.url in line]
    assert to_api == [f"GET {site.server.url}/static/messenger/widget.js"], seen
    # no global styles, nothing else added to the page than the host element
    added = await page.evaluate(
        """() => ({sheets: document.styleSheets.length, adopted: document.adoptedStyleSheets.length,
                  hosts: document.querySelectorAll('profi-messenger').length,
                  bodyStyle: document.body.getAttribute('style'),
                  htmlStyle: document.documentElement.getAttribute('style')})"""
    )
    assert added == {"sheets": 1, "adopted": 0, "hosts": 1, "bodyStyle": None, "htmlStyle": None}

    await button.hover()  # interest: now the chat loads and bootstraps
    await eventually(
        lambda: _async(any("/api/widget/bootstrap" in line for line in seen)), within=10
    )
    assert f"GET {site.server.url}/static/messenger/widget-app.js" in seen
    await button.click()
    await expect(dialog(page)).to_be_visible()
    await expect(dialog(page).get_by_text("Hello! How can we help?")).to_be_visible()
    assert await page.evaluate("() => document.styleSheets.length") == 1


async def _async(value: Any) -> Any:
    return value


async def test_host_layout_is_unchanged_by_the_widget(
    widget_site: Any, open_page: Pages, host_site: Any
) -> None:
    site: Site = await widget_site()
    measure = """() => Array.from(document.querySelectorAll('html, body, body *'))
        .filter(el => el.tagName !== 'PROFI-MESSENGER' && !el.closest('profi-messenger'))
        .map(el => { const r = el.getBoundingClientRect();
                     return [el.tagName, el.id, r.x, r.y, r.width, r.height]; })"""
    bare = await open_page.open(host_site.add(host_page(None)), wait_launcher=False)
    reference = await bare.evaluate(measure)
    assert len(reference) > 10

    page = await open_page.open(site.page())
    await expect(launcher(page)).to_be_visible()
    assert await page.evaluate(measure) == reference
    await open_chat(page)
    await send(page, "Does the page move?")
    await expect(message_log(page).get_by_text("Does the page move?")).to_be_visible()
    assert await page.evaluate(measure) == reference
    scroll = await page.evaluate("() => [scrollX, scrollY, document.body.scrollHeight]")
    assert scroll == await bare.evaluate("() => [scrollX, scrollY, document.body.scrollHeight]")


# --- opening and closing ----------------------------------------------------------------------


async def test_opens_and_closes_by_launcher_keyboard_and_every_api_method(
    widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site()
    page = await open_page.open(site.page())
    await page.evaluate(JS_RECORD_EVENTS)
    button = launcher(page)
    win = dialog(page)

    # the launcher
    await open_chat(page)
    await expect(button).to_have_attribute("aria-expanded", "true")
    await expect(button).to_have_attribute("aria-label", "Close chat")
    assert await page.evaluate("() => ProfiMessenger.isOpen()") is True
    await button.click()
    await expect(win).to_be_hidden()
    assert await page.evaluate("() => ProfiMessenger.isOpen()") is False

    # the keyboard: Esc closes, focus goes back to the launcher; Tab stays in the window
    await button.focus()
    await page.keyboard.press("Enter")
    await expect(win).to_be_visible()
    await expect(composer(page)).to_be_focused()
    await expect(win).to_have_attribute("aria-modal", "true")
    await expect(win).to_have_accessible_name("Chat with us")
    for _ in range(8):
        await page.keyboard.press("Tab")
        focus = await page.evaluate(JS_SHADOW_ACTIVE)
        assert focus.get("inDialog"), focus
    for _ in range(3):
        await page.keyboard.press("Shift+Tab")
        assert (await page.evaluate(JS_SHADOW_ACTIVE)).get("inDialog")
    await page.keyboard.press("Escape")
    await expect(win).to_be_hidden()
    focus = await page.evaluate(JS_SHADOW_ACTIVE)
    assert focus.get("cls") == "l", focus

    # the close button in the window
    await button.click()
    await win.get_by_role("button", name="Close chat").click()
    await expect(win).to_be_hidden()

    # the API
    await page.evaluate("() => ProfiMessenger.open()")
    await expect(win).to_be_visible()
    await page.evaluate("() => ProfiMessenger.close()")
    await expect(win).to_be_hidden()
    await page.evaluate("() => ProfiMessenger.toggle()")
    await expect(win).to_be_visible()
    assert await page.evaluate("() => ProfiMessenger.isOpen()") is True
    await page.evaluate("() => ProfiMessenger.toggle()")
    await expect(win).to_be_hidden()
    await page.evaluate("() => ProfiMessenger.hideLauncher()")
    await expect(button).to_be_hidden()
    await page.evaluate("() => ProfiMessenger.open()")  # a site with its own button
    await expect(win).to_be_visible()
    await page.evaluate("() => ProfiMessenger.close()")
    await page.evaluate("() => ProfiMessenger.showLauncher()")
    await expect(button).to_be_visible()

    opened_closed = [e[0] for e in await events(page) if e[0] in {"open", "close"}]
    assert opened_closed == ["open", "close"] * 6
    # off(): no more calls
    await page.evaluate("() => { window.__n = 0; window.__f = () => window.__n++; }")
    await page.evaluate("() => { ProfiMessenger.on('open', __f); ProfiMessenger.open(); }")
    await page.evaluate("() => { ProfiMessenger.off('open', __f); ProfiMessenger.close(); }")
    await page.evaluate("() => ProfiMessenger.open()")
    assert await page.evaluate("() => window.__n") == 1


async def test_calls_queued_before_the_script_loaded_are_run(
    widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site()
    head = (
        f"<script>{STUB_SNIPPET}</script>"
        "<script>window.__log = [];"
        "ProfiMessenger.on('ready', function (api) { __log.push(['ready', api.isOpen()]); });"
        "ProfiMessenger.on('open', function () { __log.push(['open']); });"
        "ProfiMessenger.hideLauncher();"
        "ProfiMessenger.open();"
        "__log.push(['stub', ProfiMessenger.isOpen(), ProfiMessenger.q.length]);</script>"
    )
    page = await open_page.open(site.page(head=head))
    await expect(dialog(page)).to_be_visible()
    await expect(dialog(page).get_by_text("Hello! How can we help?")).to_be_visible()
    await expect(launcher(page)).to_be_hidden()
    assert await page.evaluate("() => ProfiMessenger.isOpen()") is True
    log = await page.evaluate("() => window.__log")
    assert log[0] == ["stub", False, 4]
    assert ["open"] in log
    assert ["ready", True] in log


async def test_data_profi_messenger_buttons_open_and_toggle(
    widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site()
    page = await open_page.open(site.page())
    win = dialog(page)
    await page.locator("#write").click()
    await expect(win).to_be_visible()
    await expect(composer(page)).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(win).to_be_hidden()
    # focus returns to the host's own button that opened the chat
    await expect(page.locator("#write")).to_be_focused()

    await page.locator("#toggle").click()
    await expect(win).to_be_visible()
    await page.locator("#toggle").click()
    await expect(win).to_be_hidden()

    # added after the widget loaded: event delegation still finds it
    await page.evaluate(
        """() => { const a = document.createElement('a'); a.href = '#later'; a.id = 'later';
                   a.textContent = 'Chat'; a.dataset.profiMessenger = 'open';
                   document.getElementById('foot').appendChild(a); }"""
    )
    await page.locator("#later").click()
    await expect(win).to_be_visible()
    assert not page.url.endswith("#later")  # the link's default action was prevented


# --- the conversation --------------------------------------------------------------------


async def test_message_round_trip_with_a_live_operator_reply(
    widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site()
    staff = await site.desk.watch_branch(site.branch.id)
    page = await open_page.open(site.page())
    await page.evaluate(JS_RECORD_EVENTS)
    await open_chat(page)
    log = message_log(page)
    await expect(log).to_have_attribute("aria-live", "polite")

    hostile = 'Hi <img src=x onerror="window.__xss=1"> <b>bold</b> & "quotes"'
    await send(page, hostile)
    mine = log.locator(".m.me").last
    await expect(mine.locator(".tx")).to_have_text(hostile)  # as text, never as HTML
    await expect(mine.get_by_role("img", name="Sent", exact=True)).to_be_visible()
    assert await log.locator("img, b").count() == 0
    conversation = await site.desk.conversation(site.inbox.id)
    [stored] = await visitor_messages(site, conversation.id)
    assert (stored.body, stored.sender.value) == (hostile, "visitor")
    assert re.fullmatch(r"c-[0-9a-f]{24}", stored.client_msg_id or "")

    # the visitor's typing reaches the operators...
    await composer(page).press_sequentially("are you", delay=30)
    await eventually(
        lambda: _async(
            any(
                e.event == "typing" and e.data.get("typing") and e.data.get("sender") == "visitor"
                for e in staff.seen
            )
        )
    )
    # ...and the operator's typing reaches the visitor
    await site.desk.typing(conversation.id, name="Olga")
    typing_line = dialog(page).get_by_text("Olga is typing…")
    await expect(typing_line).to_be_visible()

    reply = await site.desk.reply(conversation.id, site.operator.id, "Hello from <i>Olga</i>")
    row = log.locator(".m.op").filter(has_text="Hello from <i>Olga</i>")
    await expect(row).to_be_visible()
    await expect(row.locator(".au")).to_have_text("Olga")
    await expect(row.locator("time")).to_have_text(re.compile(r"^\d{1,2}:\d{2}"))
    await expect(typing_line).to_be_hidden()
    assert ["message", "Hello from <i>Olga</i>"] in await events(page)

    async def delivered_and_read() -> bool:
        rows = {m.id: m for m in await site.desk.messages(conversation.id)}
        return rows[reply.id].delivered_at is not None and rows[reply.id].read_at is not None

    await eventually(delivered_and_read)  # received over the stream; the window is open

    await site.desk.read(conversation.id, reply.id)  # the operator read the visitor's message
    await expect(mine.get_by_role("img", name="Read", exact=True)).to_be_visible()
    assert await page.evaluate("() => window.__xss") is None
    await expect(log.locator(".m")).to_have_count(3)  # greeting, question, reply: no doubles


async def test_reload_restores_history_and_the_unread_badge(
    widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site()
    page = await open_page.open(site.page())
    await open_chat(page)
    log = message_log(page)
    await send(page, "First question")
    conversation = await site.desk.conversation(site.inbox.id)
    await site.desk.reply(conversation.id, site.operator.id, "First answer")
    await expect(log.get_by_text("First answer")).to_be_visible()
    await page.keyboard.press("Escape")
    await page.evaluate(JS_RECORD_EVENTS)

    away = await site.desk.reply(conversation.id, site.operator.id, "While you were away")
    badge = launcher(page).locator(".b")
    await expect(badge).to_have_text("1")
    await expect(launcher(page)).to_have_attribute("aria-label", "Open chat (1 unread messages)")
    assert ["unread", 1] in await events(page)

    seen = requests_log(page)
    await page.reload()
    # a returning visitor: the chat bootstraps at once (no hover) to show what is unread
    await expect(launcher(page).locator(".b")).to_have_text("1")
    assert any("/api/widget/bootstrap" in line for line in seen)
    stored = await page.evaluate(f"() => JSON.parse(localStorage['profi-messenger:{site.token}'])")
    assert stored["s"].startswith("ws1.")

    await launcher(page).click()
    texts = message_log(page).locator(".m .tx")
    await expect(texts).to_have_text(["First question", "First answer", "While you were away"])
    await expect(launcher(page).locator(".b")).to_be_hidden()

    async def read() -> bool:
        rows = {m.id: m for m in await site.desk.messages(conversation.id)}
        return rows[away.id].read_at is not None

    await eventually(read)


async def test_offline_state_and_the_offline_form(widget_site: Any, open_page: Pages) -> None:
    site: Site = await widget_site(
        online=False, inbox_settings={"offline": {"message": "We are away until Monday."}}
    )
    page = await open_page.open(site.page())
    await launcher(page).click()
    win = dialog(page)
    await expect(win.get_by_text("We are offline")).to_be_visible()
    await expect(win.get_by_text("We are away until Monday.")).to_be_visible()
    await expect(composer(page)).to_be_hidden()
    name = win.get_by_label("Your name")
    await expect(name).to_be_focused()

    await win.get_by_role("button", name="Send").click()
    await expect(
        win.get_by_role("alert").filter(has_text="Please check the fields.")
    ).to_be_visible()
    await name.fill("Ann")
    await win.get_by_label("E-mail").fill("ann@example.org")
    await win.get_by_label("Message", exact=True).fill("Please call me back about the samovar.")
    await win.get_by_role("button", name="Send").click()
    await expect(win.get_by_text("Thank you! We will answer at ann@example.org.")).to_be_visible()
    await expect(
        message_log(page).get_by_text("Please call me back about the samovar.")
    ).to_be_visible()

    conversation = await site.desk.conversation(site.inbox.id)
    assert conversation.channel == ConversationChannel.OFFLINE_FORM
    async with site.desk.config.get_session() as db:
        visitor = await db.scalar(select(Visitor).where(Visitor.id == conversation.visitor_id))
    assert visitor is not None
    assert (visitor.name, visitor.email) == ("Ann", "ann@example.org")
    assert [m.body for m in await visitor_messages(site, conversation.id)] == [
        "Please call me back about the samovar."
    ]


async def test_privacy_line_and_link(widget_site: Any, open_page: Pages, host_site: Any) -> None:
    privacy_url = host_site.add("<!doctype html><title>Privacy</title><p>Our policy</p>")
    site: Site = await widget_site(
        inbox_settings={"privacy": {"text": "We process what you write.", "url": privacy_url}}
    )
    page = await open_page.open(site.page())
    await open_chat(page)
    win = dialog(page)
    await expect(win.get_by_text("We process what you write.")).to_be_visible()
    link = win.get_by_role("link", name="Privacy policy")
    await expect(link).to_have_attribute("href", privacy_url)
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", "noopener")
    async with page.context.expect_page() as opened:
        await link.click()
    policy = await opened.value
    await expect(policy.get_by_text("Our policy")).to_be_visible()
    assert await policy.evaluate("() => window.opener") is None


async def test_an_allowed_upload_and_refused_ones(widget_site: Any, open_page: Pages) -> None:
    site: Site = await widget_site(
        inbox_settings={
            "attachments": {
                "enabled": True,
                "max_bytes": 2048,
                "content_types": ["image/png", "text/plain"],
            }
        }
    )
    page = await open_page.open(site.page())
    uploads: list[int] = []
    page.on(
        "response",
        lambda r: uploads.append(r.status) if r.url.endswith("/api/widget/attachments") else None,
    )
    await open_chat(page)
    win = dialog(page)
    await expect(win.get_by_text("Files up to 2 KB: PNG, TXT")).to_be_visible()

    async def attach(name: str, mime: str, data: bytes) -> None:
        async with page.expect_file_chooser() as chooser:
            await win.get_by_role("button", name="Attach a file").click()
        await (await chooser.value).set_files({"name": name, "mimeType": mime, "buffer": data})

    await attach("dot.png", "image/png", PNG)
    link = message_log(page).get_by_role("link", name=re.compile(r"dot\.png"))
    await expect(link).to_be_visible()
    href = await link.get_attribute("href")
    assert href is not None
    assert href.startswith(f"{site.server.url}/api/widget/attachments/")
    # the signed link works from the customer's page
    assert await page.evaluate(
        "href => fetch(href).then(r => r.arrayBuffer()).then(b => b.byteLength)", href
    ) == len(PNG)
    conversation = await site.desk.conversation(site.inbox.id)
    async with site.desk.config.get_session() as db:
        attachments = list(await db.scalars(select(Attachment)))
    assert [(a.filename, a.conversation_id) for a in attachments] == [("dot.png", conversation.id)]

    # too large: explained before anything is sent
    await attach("big.png", "image/png", PNG + b"\0" * 3000)
    alert = win.get_by_role("alert").filter(has_text="big.png")
    await expect(alert).to_have_text("“big.png” was not sent: it is larger than 2 KB.")

    # a type the inbox refuses: the server's 415, explained
    await attach("page.html", "text/html", b"<html><script>alert(1)</script></html>")
    alert = win.get_by_role("alert").filter(has_text="page.html")
    await expect(alert).to_have_text(
        "“page.html” was not sent: files of this type are not accepted. Allowed: PNG, TXT."
    )
    await expect(message_log(page).locator(".m.me.fl")).to_have_count(1)
    assert uploads == [201, 415]
    async with site.desk.config.get_session() as db:
        assert len(list(await db.scalars(select(Attachment)))) == 1


async def test_a_throttled_send_shows_a_notice_and_goes_out_later(
    widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site(MESSENGER_WIDGET_SEND_RATE_PER_SESSION="2/4s")
    page = await open_page.open(site.page())
    statuses: list[int] = []
    page.on(
        "response",
        lambda r: statuses.append(r.status) if r.url.endswith("/api/widget/messages") else None,
    )
    await open_chat(page)
    for text in ("one", "two", "three"):
        await send(page, text)
    notice = dialog(page).get_by_role("status")
    await expect(notice).to_have_text(
        re.compile(r"^Too many messages in a row\. Sending again in [1-4] s\.$")
    )
    assert 429 in statuses
    mine = message_log(page).locator(".m.me")
    await expect(mine.get_by_role("img", name="Sent", exact=True)).to_have_count(3, timeout=15_000)
    await expect(notice).to_be_hidden()
    conversation = await site.desk.conversation(site.inbox.id)
    assert [m.body for m in await visitor_messages(site, conversation.id)] == [
        "one",
        "two",
        "three",
    ]


async def test_a_proof_of_work_challenge_is_solved_with_a_visible_notice(
    widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site(
        MESSENGER_WIDGET_CHALLENGE_THRESHOLD="0", MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER="20000"
    )
    page = await open_page.open(site.page())
    statuses: list[int] = []
    page.on(
        "response",
        lambda r: statuses.append(r.status) if r.url.endswith("/api/widget/bootstrap") else None,
    )
    await page.evaluate(
        """() => { window.__notices = [];
          const root = document.querySelector('profi-messenger').shadowRoot;
          new MutationObserver(() => {
            const n = root.querySelector('[role=status]');
            if (n && !n.hidden && n.textContent) window.__notices.push(n.textContent);
          }).observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
        }"""
    )
    await open_chat(page)
    await expect(dialog(page).get_by_text("Hello! How can we help?")).to_be_visible()
    assert statuses[:2] == [428, 200]
    assert "Checking that you are not a robot…" in await page.evaluate("() => window.__notices")
    await expect(dialog(page).get_by_role("status")).to_be_hidden()
    await send(page, "I am a person")
    conversation = await site.desk.conversation(site.inbox.id)
    assert [m.body for m in await visitor_messages(site, conversation.id)] == ["I am a person"]


async def test_russian_and_english(widget_site: Any, open_page: Pages, db_session: Any) -> None:
    from tests.support.factories import make_inbox

    site: Site = await widget_site(inbox_settings={"locale": "ru"})
    neutral = await make_inbox(
        db_session,
        name="No locale",
        branch=site.branch,
        domains=["127.0.0.1"],
        settings={"greeting": "Hi"},
    )
    await db_session.commit()

    # the inbox says Russian: Russian, whatever the browser prefers
    page = await open_page.open(site.page(), locale="en-US")
    await launcher(page).click()
    win = dialog(page)
    await expect(win).to_have_accessible_name("Напишите нам")
    await expect(composer(page)).to_have_attribute("placeholder", "Напишите сообщение…")
    await expect(win.get_by_text("Мы на связи")).to_be_visible()
    await expect(launcher(page)).to_have_attribute("aria-label", "Закрыть чат")
    await expect(message_log(page)).to_have_attribute("aria-label", "Сообщения")
    await send(page, "Привет")
    await expect(message_log(page).get_by_role("img", name="Отправлено")).to_be_visible()

    # no inbox locale: the browser's language decides
    for locale, title, placeholder in (
        ("ru-RU", "Напишите нам", "Напишите сообщение…"),
        ("en-GB", "Chat with us", "Write a message…"),
    ):
        page = await open_page.open(site.page(token=neutral.widget_token), locale=locale)
        await launcher(page).click()
        await expect(dialog(page)).to_have_accessible_name(title)
        await expect(composer(page)).to_have_attribute("placeholder", placeholder)


# --- nothing lost, nothing doubled --------------------------------------------------------


async def test_a_send_whose_answer_was_lost_is_retried_without_a_double(
    widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site()
    page = await open_page.open(site.page())
    await open_chat(page)
    answered: list[int] = []

    async def lose_first_answer(route: Any) -> None:
        if route.request.method == "POST" and not answered:
            response = await route.fetch()  # the server stores the message...
            answered.append(response.status)
            await route.abort("connectionreset")  # ...and the answer never arrives
        else:
            await route.continue_()

    await page.route(f"{site.server.url}/api/widget/messages", lose_first_answer)
    await send(page, "Exactly once, please")
    row = message_log(page).locator(".m.me").filter(has_text="Exactly once, please")
    await expect(row.get_by_role("img", name="Sent", exact=True)).to_be_visible(timeout=15_000)
    await expect(row).to_have_count(1)
    assert answered == [201]
    conversation = await site.desk.conversation(site.inbox.id)
    bodies = [m.body for m in await visitor_messages(site, conversation.id)]
    assert bodies == ["Exactly once, please"]


async def test_polling_takes_over_when_the_stream_keeps_failing(
    widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site()
    page = await open_page.open()
    seen = requests_log(page)
    await page.route(re.compile(r".*/api/widget/stream\?.*"), lambda route: route.abort())
    await page.goto(site.page())
    await open_chat(page)
    await send(page, "Is anyone there?")
    conversation = await site.desk.conversation(site.inbox.id)
    await eventually(
        lambda: _async(any("/api/widget/messages?after=" in line for line in seen)), within=20
    )
    await site.desk.reply(conversation.id, site.operator.id, "Yes, by polling")
    await expect(message_log(page).get_by_text("Yes, by polling")).to_be_visible()
    streams = [line for line in seen if "/api/widget/stream?" in line]
    assert len(streams) >= 3  # it did try to stream, with a fresh ticket each time
    tickets = {re.search(r"ticket=([^&]+)", line).group(1) for line in streams}  # type: ignore[union-attr]
    assert len(tickets) == len(streams)


async def test_the_stream_reconnects_and_replays_what_it_missed(
    widget_site: Any, open_page: Pages, env: dict[str, str]
) -> None:
    site: Site = await widget_site()
    page = await open_page.open()
    seen = requests_log(page)
    await page.goto(site.page())
    await open_chat(page)
    await send(page, "Before the restart")
    await expect(message_log(page).get_by_role("img", name="Sent", exact=True)).to_be_visible()
    conversation = await site.desk.conversation(site.inbox.id)
    [before] = await visitor_messages(site, conversation.id)

    site.server.stop()
    missed = await site.desk.reply(
        conversation.id, site.operator.id, "Written while you were cut off", publish=False
    )
    restarted = LiveServer({**env, **RELAXED_ENV})
    restarted.port, restarted.url = site.server.port, site.server.url
    try:
        await asyncio.to_thread(restarted.start)
        await expect(message_log(page).get_by_text("Written while you were cut off")).to_be_visible(
            timeout=30_000
        )
        await expect(message_log(page).get_by_text("Written while you were cut off")).to_have_count(
            1
        )
        assert any(f"last_event_id={before.id}" in line for line in seen)
        await site.desk.reply(conversation.id, site.operator.id, "And live again")
        await expect(message_log(page).get_by_text("And live again")).to_be_visible(timeout=15_000)
        assert missed.id > before.id
    finally:
        restarted.stop()


async def test_unsent_messages_survive_a_reload(widget_site: Any, open_page: Pages) -> None:
    site: Site = await widget_site()
    page = await open_page.open(site.page())
    await open_chat(page)
    sends = f"{site.server.url}/api/widget/messages"
    await page.route(sends, lambda route: route.abort("internetdisconnected"))
    await send(page, "Typed while the network was down")
    row = message_log(page).locator(".m.me").filter(has_text="Typed while the network was down")
    await expect(row.get_by_role("img", name="Not sent yet, retrying…")).to_be_visible()
    await page.unroute(sends)
    await page.reload()  # nothing clicked after this: the kept message goes out by itself
    conversation = await site.desk.conversation(site.inbox.id, within=15)
    assert [m.body for m in await visitor_messages(site, conversation.id)] == [
        "Typed while the network was down"
    ]
    await launcher(page).click()
    await expect(row.get_by_role("img", name="Sent", exact=True)).to_be_visible()
    await expect(row).to_have_count(1)


async def test_the_demo_page_embeds_the_widget_from_another_origin(
    open_page: Pages,
    env: dict[str, str],
    db_session: Any,
    clean_db: None,
    redis: Any,
    redis_prefix: str,
) -> None:
    from messenger.cli import DEMO_DOMAINS, DEMO_INBOX
    from messenger.presence import RedisPresence
    from tests.support.factories import make_branch, make_inbox, make_user
    from tests.support.servers import free_port

    branch = await make_branch(db_session, "Demo branch")
    operator = await make_user(db_session, [branch], email="demo-op@example.com")
    await RedisPresence(redis, prefix=f"{redis_prefix}:presence").touch(
        operator.id, [branch.id], ttl=600
    )
    await make_inbox(
        db_session,
        name=DEMO_INBOX,
        branch=branch,
        domains=DEMO_DOMAINS,
        settings={"greeting": "Hello from the demo!"},
    )
    await db_session.commit()
    port = free_port()
    server = LiveServer({**env, **RELAXED_ENV, "MESSENGER_PUBLIC_URL": f"http://127.0.0.1:{port}"})
    server.port, server.url = port, f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(server.start)
        page = await open_page.open()
        seen = requests_log(page)
        await page.goto(f"http://localhost:{port}/demo")  # the API is http://127.0.0.1:<port>
        await page.get_by_role("button", name="Write to chat").first.click()
        await expect(dialog(page).get_by_text("Hello from the demo!")).to_be_visible()
        await send(page, "Hello from the demo page")
        await expect(message_log(page).get_by_role("img", name="Sent", exact=True)).to_be_visible()
        assert any(f"POST http://127.0.0.1:{port}/api/widget/messages" in s for s in seen)
        await expect(page.locator("#events")).to_contain_text("message  visitor: Hello from")
    finally:
        server.stop()
