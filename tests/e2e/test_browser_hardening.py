"""Staff pages and the API docs under their Content-Security-Policy, in headless chromium
(issue 11, item 7): nothing is blocked, no script comes from another origin, and the pages
still work (htmx, the live stream, Scalar)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import Pages, Site, open_chat, send, staff_sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

#: Every CSP violation of the page (an event the browser fires for each blocked thing).
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


async def watched(pages: Pages) -> Page:
    page = await pages.open()
    await page.add_init_script(WATCH_CSP)
    return page


async def violations(page: Page) -> list[str]:
    return list(await page.evaluate("() => window.__csp || []"))


async def test_the_api_docs_render_from_same_origin_pinned_files(
    widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site()
    page = await watched(open_page)
    loaded: list[str] = []
    page.on("requestfinished", lambda request: loaded.append(request.url))
    answer = await page.goto(f"{site.server.url}/schema")
    assert answer is not None
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    # Scalar rendered the operations of the schema
    sidebar = page.get_by_role("complementary", name="Sidebar for Messenger API")
    await expect(sidebar).to_be_visible(timeout=20_000)
    await expect(sidebar.get_by_role("link", name="widget", exact=True)).to_be_visible()
    await expect(
        sidebar.get_by_text("Readiness: the database, Redis and the live fan-out answer")
    ).to_be_visible()
    scripts = await page.evaluate(
        "() => Array.from(document.scripts).map(s => s.src || 'inline:' + s.textContent)"
    )
    assert scripts == [
        f"{site.server.url}/static/vendor/scalar-api-reference.js",
        f"{site.server.url}/static/docs/api-docs.js",
    ]
    # Nothing is fetched from another origin. Scalar's stylesheet names its web fonts on
    # fonts.scalar.com and it probes for eval: the CSP blocks both (the page works without);
    # nothing else is blocked.
    foreign = [url for url in loaded if not url.startswith((site.server.url, "data:"))]
    assert foreign == []
    blocked = await violations(page)
    expected = ("font-src https://fonts.scalar.com/", "script-src eval")
    assert all(v.startswith(expected) for v in blocked), blocked


async def test_the_dashboard_works_under_its_csp(widget_site: Any, open_page: Pages) -> None:
    site: Site = await widget_site()
    visitor = await open_page.open(site.page())
    await open_chat(visitor)
    await send(visitor, "Is the CSP strict?")

    page = await watched(open_page)
    await staff_sign_in(page, site.server.url, site.operator.email)
    answer = await page.reload()
    assert answer is not None
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert "script-src 'self';" in answer.headers["content-security-policy"]
    # htmx works: the list shows the conversation; opening it swaps in the pane
    item = page.locator("#conversation-list").get_by_text("Is the CSP strict?")
    await expect(item).to_be_visible()
    await item.click()
    await expect(page.locator("#history").get_by_text("Is the CSP strict?")).to_be_visible()
    # and the live stream (the SSE extension) delivers the visitor's next message
    await send(visitor, "Still there?")
    await expect(page.locator("#history").get_by_text("Still there?")).to_be_visible()
    assert await page.evaluate("() => typeof window.htmx") == "object"
    assert await violations(page) == []
