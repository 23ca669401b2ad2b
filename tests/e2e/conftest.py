"""Browser tests of the embeddable widget: headless Debian chromium driven by Playwright.

- ``browser_type_launch_args`` overrides pytest-playwright's fixture: Debian's chromium (Playwright
  cannot download its own browsers here). A missing chromium is an error that says how to
  install it, never a skip.
- ``host_site``: a small threaded HTTP server on another port of 127.0.0.1 that serves generated
  customer pages embedding ``widget.js`` from the live API server: another origin than the API,
  with hostile global CSS.
- ``widget_site``: a branch, an operator, an inbox allowed on ``127.0.0.1`` and a live server.
- ``open_page``: a fresh browser context per call (own localStorage), closed after the test; any
  uncaught JavaScript error in a page fails the test.
- ``site.desk``: the staff side from the test process (``tests.support.desk.OperatorDesk``:
  replies, typing, read receipts), publishing through Redis like another app process.
- ``open_chat``, ``send``: the visitor's side in the widget; ``staff_sign_in``: an operator or
  admin signing in to the dashboard through its form.
"""

from __future__ import annotations

import asyncio
import html
import secrets
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db.models import Branch, Inbox, User
from messenger.presence import RedisPresence
from tests.support.app import RELAXED_ENV as APP_RELAXED_ENV
from tests.support.desk import OperatorDesk
from tests.support.factories import PASSWORD, make_branch, make_inbox, make_user
from tests.support.servers import LiveServer, free_port
from tests.support.waiting import eventually as _eventually

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

#: The suite's relaxed limits, with the widget's real-world poll pace (a test that needs a
#: limit sets its own).
RELAXED_ENV = {**APP_RELAXED_ENV, "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS": "0.2"}

#: What a careless site does to everything on the page, widget or not.
HOSTILE_CSS = """
* { box-sizing: content-box !important; font-size: 40px !important; line-height: 1.1 !important;
    color: #0f0 !important; letter-spacing: 3px !important; }
div { display: block !important; padding: 7px !important; }
body > * { margin: 11px !important; }
button { position: static !important; width: 333px !important; height: 77px !important;
         background: #f0f !important; border-radius: 0 !important; }
svg, img { width: 300px !important; height: 300px !important; }
textarea, input { display: none !important; }
[hidden] { display: block !important; }
"""

#: The documented stub (docs/widget.md): calls made before widget.js ran are queued.
STUB_SNIPPET = (
    "window.ProfiMessenger=window.ProfiMessenger||{q:[],isOpen:function(){return false}};"
    '["open","close","toggle","showLauncher","hideLauncher","on","off","identify","logout"]'
    ".forEach(function(m){"
    "var p=window.ProfiMessenger;p[m]=p[m]||function(){p.q.push([m].concat([].slice.call(arguments)))}});"
)

HOST_BODY = """
<header id="top"><h1 id="brand">Host shop</h1>
  <nav id="nav"><a id="home" href="#">Home</a> <a id="catalog" href="#">Catalog</a></nav></header>
<main id="main">
  <div class="card" id="card1"><p id="p1">Fresh tea, every day.</p>
    <button id="write" type="button" data-profi-messenger="open">Write to chat</button></div>
  <div class="card" id="card2"><span id="label">Not sure?</span>
    <button id="toggle" type="button" data-profi-messenger="toggle">Toggle chat</button></div>
  <p id="para">Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>
  <ul id="list"><li id="li1">One</li><li id="li2">Two</li></ul>
</main>
<footer id="foot">Footer text</footer>
"""


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    """pytest-playwright's launch options, pointed at Debian's chromium (see STACK.md)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium. Install it with "
            "'apt-get update && apt-get install -y chromium' (or run 'make test', which does).",
            pytrace=False,
        )
    return {"executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
async def chromium(browser_type_launch_args: dict[str, Any]) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await asyncio.wait_for(playwright.chromium.launch(**browser_type_launch_args), 60)
        try:
            yield browser
        finally:
            await browser.close()


# --- the customer's site, on another origin --------------------------------------------------


class HostSite:
    """Serves registered HTML pages on http://127.0.0.1:<own port>/<path>."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?", 1)[0])
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, html_text: str) -> str:
        path = f"/shop-{secrets.token_hex(4)}.html"
        self.pages[path] = html_text.encode()
        return self.origin + path


@pytest.fixture(scope="session")
def host_site() -> Iterator[HostSite]:
    site = HostSite()
    site.thread.start()
    try:
        yield site
    finally:
        site.server.shutdown()
        site.server.server_close()


def host_page(
    api_url: str | None,
    widget_token: str = "",
    *,
    head: str = "",
    body: str = HOST_BODY,
    hostile: bool = True,
) -> str:
    """A customer page; ``api_url`` None leaves the widget out (the layout reference)."""
    tag = ""
    if api_url is not None:
        src = html.escape(f"{api_url}/static/messenger/widget.js")
        tag = f'<script src="{src}" data-widget-token="{html.escape(widget_token)}" async></script>'
    style = f"<style>{HOSTILE_CSS}</style>" if hostile else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host shop</title>'
        f"{style}{head}{tag}</head><body>{body}</body></html>"
    )


async def eventually(
    check: Callable[[], Awaitable[Any]], *, within: float = 10.0, interval: float = 0.1
) -> Any:
    """``tests.support.widget.eventually`` with a browser's patience."""
    return await _eventually(check, within=within, interval=interval)


# --- one customer site with its inbox and a live server -------------------------------------


@dataclass
class Site:
    server: LiveServer
    inbox: Inbox
    branch: Branch
    operator: User
    desk: OperatorDesk
    host: HostSite
    extra_inboxes: list[Inbox] = field(default_factory=list)

    @property
    def token(self) -> str:
        return self.inbox.widget_token

    def page(self, *, token: str | None = None, **kwargs: Any) -> str:
        """Register a host page embedding this site's widget; returns its URL."""
        return self.host.add(host_page(self.server.url, token or self.token, **kwargs))


@pytest.fixture
async def widget_site(
    db_session: AsyncSession,
    live_server: Callable[..., LiveServer],
    host_site: HostSite,
    redis: Redis,
    redis_prefix: str,
    settings: Settings,
) -> AsyncIterator[Callable[..., Awaitable[Site]]]:
    """``site = await widget_site(online=True, inbox_settings={...}, MESSENGER_X="...")``."""
    desks: list[OperatorDesk] = []

    async def make(
        *, online: bool = True, inbox_settings: dict[str, Any] | None = None, **server_env: str
    ) -> Site:
        branch = await make_branch(db_session, "Widget branch")
        operator = await make_user(db_session, [branch], email="olga@example.com", name="Olga")
        inbox = await make_inbox(
            db_session,
            name="Tea shop",
            branch=branch,
            domains=["127.0.0.1"],
            settings={"greeting": "Hello! How can we help?", **(inbox_settings or {})},
        )
        await db_session.commit()
        if online:
            presence = RedisPresence(redis, prefix=f"{redis_prefix}:presence")
            await presence.touch(operator.id, [branch.id], ttl=600)
        server = live_server(**{**RELAXED_ENV, **server_env})
        desk = await OperatorDesk(settings).start()
        desks.append(desk)
        return Site(server, inbox, branch, operator, desk, host_site)

    yield make
    for desk in desks:
        await desk.close()


# --- pages ---------------------------------------------------------------------------------


@dataclass
class Pages:
    browser: Browser
    contexts: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def open(
        self, url: str | None = None, *, locale: str = "en-US", wait_launcher: bool = True
    ) -> Page:
        context = await self.browser.new_context(
            locale=locale, viewport={"width": 1280, "height": 900}, reduced_motion="reduce"
        )
        context.set_default_timeout(10_000)
        context.set_default_navigation_timeout(15_000)
        self.contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        if url is not None:
            await page.goto(url)
            if wait_launcher:
                await launcher(page).wait_for(state="attached")
        return page


@pytest.fixture
async def open_page(chromium: Browser) -> AsyncIterator[Pages]:
    pages = Pages(chromium)
    yield pages
    for context in pages.contexts:
        await context.close()
    assert pages.errors == [], f"uncaught JavaScript errors: {pages.errors}"


# --- locators into the widget's (open) shadow root -------------------------------------------


def launcher(page: Page) -> Any:
    return page.locator("profi-messenger button.l")


def dialog(page: Page) -> Any:
    return page.get_by_role("dialog")


def composer(page: Page) -> Any:
    return dialog(page).locator("#pm-input")


def message_log(page: Page) -> Any:
    return page.get_by_role("log")


JS_SHADOW_ACTIVE = """() => {
  const host = document.querySelector('profi-messenger');
  if (document.activeElement !== host) return {outside: document.activeElement && document.activeElement.id};
  const el = host.shadowRoot.activeElement;
  return {inside: true, cls: el && el.className, inDialog: !!(el && el.closest('[role=dialog]')),
          label: el && el.getAttribute('aria-label'), id: el && el.id};
}"""


async def open_chat(page: Page) -> None:
    await launcher(page).click()
    await expect(dialog(page)).to_be_visible()
    await expect(composer(page)).to_be_focused()


async def send(page: Page, text: str) -> None:
    await composer(page).fill(text)
    await composer(page).press("Enter")


# --- the dashboard ---------------------------------------------------------------------------


async def staff_sign_in(page: Page, server_url: str, email: str, password: str = PASSWORD) -> None:
    """Sign in through the dashboard's form (field names, so in any language); the dashboard's
    home, the unified messenger, is where it lands."""
    await page.goto(f"{server_url}/login")
    form = page.locator("form[action='/login']")
    await form.locator("input[name=email]").fill(email)
    await form.locator("input[name=password]").fill(password)
    await form.locator("button[type=submit]").click()
    await expect(page).to_have_url(f"{server_url}/conversations")
