"""Helpers of the phone-layout, keyboard and accessibility tests of the dashboard.

- ``LAYOUTS``: the two layouts every staff page is checked in (desktop 1280x800, phone
  390x844).
- ``staffed_site``: a widget site (``tests.e2e.conftest.widget_site``) with an admin in the
  branch, a routing rule on the inbox and two conversations started by visitors through the
  real Widget API (the newest first in the list; it has a reply and a note too).
- ``staff_page``: a fresh browser context of one layout, signed in as a staff user; uncaught
  JavaScript errors are collected by ``Pages`` and fail the test.
- ``axe_violations``: axe-core (npm, ``node_modules/axe-core``) run on the page; only the
  serious and critical violations, one readable line each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from playwright.async_api import Page
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import User, UserRole
from messenger.routing.service import RoutingRuleService
from tests.e2e.conftest import Pages, Site, staff_sign_in
from tests.support.dashboard import Visitor, quick_user
from tests.support.env import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

#: name → (width, height)
LAYOUTS: dict[str, tuple[int, int]] = {"desktop": (1280, 800), "phone": (390, 844)}


@dataclass
class Staffed:
    site: Site
    admin: User
    #: conversation ids, oldest first
    conversations: list[str]


async def staffed_site(site: Site, db_session: AsyncSession) -> Staffed:
    admin = await quick_user(
        db_session, [site.branch], email="anna@example.com", name="Anna", role=UserRole.ADMIN
    )
    await RoutingRuleService(session=db_session).add_rule(
        site.inbox.id,
        name="Moscow visitors",
        conditions={"cities": ["Moscow"]},
        target_branch_id=site.branch.id,
    )
    await db_session.commit()
    conversations = []
    async with httpx.AsyncClient(base_url=site.server.url, timeout=10) as client:
        for text in ("Where is my order 1042?", "Do you deliver to Kazan?"):
            visitor = Visitor(client, site.token, site.server.url)
            conversations.append((await visitor.send(text))["conversation_id"])
    newest = conversations[-1]
    await site.desk.reply(newest, site.operator.id, "Yes, in two days.")
    await site.desk.note(newest, site.operator.id, "A regular customer")
    return Staffed(site, admin, conversations)


async def staff_page(
    pages: Pages,
    staffed: Staffed,
    layout: str,
    *,
    user: User | None = None,
    sign_in: bool = True,
    bypass_csp: bool = False,
    locale: str = "en-US",
) -> Page:
    """A new context in ``layout``; signed in as ``user`` (the admin by default)."""
    width, height = LAYOUTS[layout]
    context = await pages.browser.new_context(
        locale=locale,
        viewport={"width": width, "height": height},
        reduced_motion="reduce",
        # axe-core is injected as a script tag; the staff CSP forbids inline scripts.
        bypass_csp=bypass_csp,
    )
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(15_000)
    pages.contexts.append(context)
    page = await context.new_page()
    page.on("pageerror", lambda exc: pages.errors.append(f"{page.url}: {exc}"))
    if sign_in:
        await staff_sign_in(page, staffed.site.server.url, (user or staffed.admin).email)
    return page


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' — ' +
         v.nodes.slice(0, 4).map(n => JSON.stringify(n.target)).join(', '));
}"""


async def axe_violations(page: Page) -> list[str]:
    """The page's serious and critical axe-core violations (open shadow roots included)."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.add_script_tag(path=str(AXE))
    found: list[Any] = await page.evaluate(AXE_RUN)
    return [str(line) for line in found]


async def horizontal_overflow(page: Page) -> int:
    """How many pixels the page is wider than its viewport (0: no horizontal scrolling)."""
    return int(
        await page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )
