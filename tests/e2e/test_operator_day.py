"""The operator's day in a real browser: a coloured label from the conversation header, a
snooze, and a transfer that takes the row off a colleague's open list at once."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Label
from tests.e2e.conftest import Pages, staff_sign_in
from tests.support.dashboard import quick_user
from tests.support.factories import make_branch, make_conversation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


async def test_label_snooze_and_transfer_from_the_header(
    widget_site: Any, open_page: Pages, db_session: AsyncSession
) -> None:
    site = await widget_site()
    server = site.server.url
    elsewhere = await make_branch(db_session, "Far branch")
    colleague = await quick_user(db_session, [site.branch], email="ivan@example.com", name="Ivan")
    db_session.add(Label(name_ru="ВИП", name_en="VIP", color="#ff0000"))
    conversation = await make_conversation(db_session, site.inbox, site.branch.id, name="Mila")
    await db_session.commit()
    row_id = f"#conv-{conversation.id}"

    watcher = await open_page.open(locale="en-US")
    async with watcher.expect_response(lambda r: r.url.startswith(f"{server}/dashboard/stream")):
        await staff_sign_in(watcher, server, colleague.email)
    # Every status: a snoozed (pending) conversation stays on this list; only a transfer
    # out of the branch may take it off.
    await watcher.locator("#filters select[name=status]").select_option("any")
    await expect(watcher.locator(row_id)).to_be_visible()

    desk = await open_page.open(locale="en-US")
    await staff_sign_in(desk, server, site.operator.email)
    await desk.locator(f"{row_id} a").click()
    controls = desk.locator("#controls")
    await expect(controls.get_by_label("Add label")).to_be_visible()
    await controls.get_by_label("Add label").select_option(label="VIP")
    chip = controls.locator(".label-chip", has_text="VIP")
    await expect(chip).to_be_visible()
    # The colour comes from the label (set by labels.js: no inline styles under the CSP).
    await expect(chip).to_have_css("border-top-color", "rgb(255, 0, 0)")
    await expect(watcher.locator(f"{row_id} .label-chip")).to_contain_text("VIP")

    await controls.locator("summary", has_text="Snooze").click()
    await controls.get_by_label("Until tomorrow morning (09:00)").check()
    await controls.get_by_role("button", name="Snooze").click()
    await expect(desk.locator("#controls .pill.status-pending")).to_be_visible()
    await expect(desk.locator("#controls .snoozed")).to_contain_text("Snoozed until")
    await expect(watcher.locator(f"{row_id} .pill.status-pending")).to_be_visible()

    await desk.locator("#controls summary", has_text="Transfer").click()
    await desk.locator("#controls select[name=branch_id]").select_option(label=elsewhere.name)
    await desk.locator("#controls textarea[name=note]").fill("Their city")
    await desk.locator("#controls").get_by_role("button", name="Transfer").click()
    await expect(desk).to_have_url(f"{server}/conversations")
    await expect(desk.locator(row_id)).to_have_count(0)
    # The colleague's open list drops it live, without a reload.
    await expect(watcher.locator(row_id)).to_have_count(0, timeout=3_000)
