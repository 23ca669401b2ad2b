"""Every dashboard page and the opened widget pass axe-core with no serious or critical
violation, in both layouts (desktop 1280x800 and phone 390x844).

axe-core comes from npm (``node_modules/axe-core``, a devDependency) and is injected into the
page under test. ``PAGES`` is the one list of staff pages checked: add a page here when you
add one to the dashboard (a path with ``{conversation}`` / ``{inbox}`` placeholders, and what
to click first, if anything).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy.ext.asyncio import AsyncSession

from tests.e2e.conftest import Pages, Site, host_page, open_chat
from tests.e2e.staff_pages import LAYOUTS, axe_violations, staff_page, staffed_site

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@dataclass(frozen=True)
class StaffPage:
    path: str
    #: False: checked signed out (the sign-in page)
    signed_in: bool = True
    #: a selector clicked (when visible) before the check: a panel opened, a dialog shown
    click: str | None = None
    #: a key pressed before the check (e.g. "?" opens the shortcuts overlay)
    press: str | None = None


PAGES = [
    pytest.param(StaffPage("/login", signed_in=False), id="login"),
    pytest.param(StaffPage("/conversations"), id="unified-messenger"),
    pytest.param(StaffPage("/conversations/{conversation}"), id="conversation-open"),
    pytest.param(
        StaffPage("/conversations/{conversation}", click="[data-panel-toggle]"),
        id="conversation-visitor-panel",
    ),
    pytest.param(StaffPage("/conversations/{conversation}", press="?"), id="shortcuts-overlay"),
    pytest.param(StaffPage("/account"), id="account"),
    pytest.param(StaffPage("/admin/inboxes"), id="admin-inboxes"),
    # One inbox: settings, embed snippet and its routing rules (one rule in the list).
    pytest.param(StaffPage("/admin/inboxes/{inbox}"), id="admin-inbox-and-routing-rules"),
    pytest.param(StaffPage("/admin/branches"), id="admin-branches"),
    pytest.param(StaffPage("/admin/operators"), id="admin-operators"),
    pytest.param(StaffPage("/admin/labels"), id="admin-labels"),
    pytest.param(StaffPage("/admin/webhooks"), id="admin-webhooks"),
    pytest.param(StaffPage("/admin/api-tokens"), id="admin-api-tokens"),
    pytest.param(StaffPage("/admin/audit"), id="admin-audit"),
    pytest.param(StaffPage("/saved-replies"), id="saved-replies"),
    pytest.param(StaffPage("/reports"), id="reports"),
]


@pytest.mark.parametrize("staff", PAGES)
async def test_a_staff_page_has_no_serious_accessibility_violation(
    staff: StaffPage, widget_site: Any, open_page: Pages, db_session: AsyncSession
) -> None:
    staffed = await staffed_site(await widget_site(), db_session)
    path = staff.path.format(conversation=staffed.conversations[-1], inbox=staffed.site.inbox.id)
    found: dict[str, list[str]] = {}
    for layout in LAYOUTS:
        page = await staff_page(
            open_page, staffed, layout, sign_in=staff.signed_in, bypass_csp=True
        )
        response = await page.goto(staffed.site.server.url + path)
        assert response is not None, path
        assert response.status == 200, path
        await expect(page.locator("main")).to_be_visible()
        if staff.click is not None:
            target = page.locator(staff.click)
            if await target.is_visible():
                await target.click()
        if staff.press is not None:
            await page.locator("body").press(staff.press)
            await expect(page.get_by_role("dialog")).to_be_visible()
        found[layout] = await axe_violations(page)
    assert found == {layout: [] for layout in LAYOUTS}, _report(found)


@pytest.mark.parametrize("layout", list(LAYOUTS))
async def test_the_opened_widget_has_no_serious_accessibility_violation(
    layout: str, widget_site: Any, open_page: Pages
) -> None:
    site: Site = await widget_site()
    url = site.host.add(host_page(site.server.url, site.token, hostile=False))
    page = await open_page.open(url)
    width, height = LAYOUTS[layout]
    await page.set_viewport_size({"width": width, "height": height})
    await open_chat(page)
    found = await axe_violations(page)
    assert found == [], _report({layout: found})


def _report(found: dict[str, list[str]]) -> str:
    return "\n".join(f"{layout}: {line}" for layout, lines in found.items() for line in lines)
