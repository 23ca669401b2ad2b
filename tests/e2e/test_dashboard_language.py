"""The dashboard's language in a real browser: Russian for a Russian browser, the switch in
the top bar, and the choice kept for later visits and sign-ins (issue 7)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import User
from tests.e2e.conftest import RELAXED_ENV, Pages, staff_sign_in
from tests.support.dashboard import fresh, quick_user
from tests.support.factories import make_branch, make_conversation, make_inbox
from tests.support.servers import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


async def expect_russian(page: Page) -> None:
    await expect(page.locator("html")).to_have_attribute("lang", "ru")
    controls = page.locator("#controls")
    await expect(controls.get_by_role("button", name="Назначить меня")).to_be_visible()
    status = controls.get_by_label("Статус")
    await expect(status).to_have_value("open")
    await expect(status.locator("option:checked")).to_have_text("Открыт")
    await expect(status.locator("option[value=pending]")).to_have_text("Ожидает")
    priority = controls.get_by_label("Приоритет")
    await expect(priority.locator("option:checked")).to_have_text("Обычный")
    await expect(controls.locator(".pill.status-open")).to_have_text("Открыт")
    composer = page.locator("#composer")
    await expect(composer.get_by_role("radio", name="Заметка")).to_be_visible()
    await expect(composer.get_by_role("radio", name="Сообщение")).to_be_checked()
    await expect(composer.get_by_role("button", name="Отправить")).to_be_visible()
    await expect(page.get_by_role("link", name="Диалоги")).to_be_visible()
    await expect(page.get_by_role("button", name="Assign me")).to_have_count(0)


async def expect_english(page: Page) -> None:
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    controls = page.locator("#controls")
    await expect(controls.get_by_role("button", name="Assign me")).to_be_visible()
    status = controls.get_by_label("Status")
    await expect(status).to_have_value("open")
    await expect(status.locator("option:checked")).to_have_text("Open")
    await expect(status.locator("option[value=pending]")).to_have_text("Pending")
    priority = controls.get_by_label("Priority")
    await expect(priority.locator("option:checked")).to_have_text("Normal")
    await expect(controls.locator(".pill.status-open")).to_have_text("Open")
    composer = page.locator("#composer")
    await expect(composer.get_by_role("radio", name="Note")).to_be_visible()
    await expect(composer.get_by_role("radio", name="Message")).to_be_checked()
    await expect(composer.get_by_role("button", name="Send")).to_be_visible()
    await expect(page.get_by_role("link", name="Conversations")).to_be_visible()
    await expect(page.get_by_role("button", name="Назначить меня")).to_have_count(0)
    await expect(page.locator("#locale-switch")).to_have_value("en")


async def test_russian_browser_russian_dashboard_then_english_kept(
    db_session: AsyncSession,
    live_server: Callable[..., LiveServer],
    open_page: Pages,
) -> None:
    branch = await make_branch(db_session, "Казань")
    operator = await quick_user(db_session, [branch], email="ivan@example.com", name="Иван")
    inbox = await make_inbox(db_session, name="Чайная", branch=branch)
    conversation = await make_conversation(db_session, inbox, branch.id, name="Пётр")
    assert operator.locale is None  # no saved preference: the browser decides
    server = live_server(**RELAXED_ENV)
    pane = f"{server.url}/conversations/{conversation.id}"

    # --- a Russian browser: Russian from the sign-in page on --------------------------------
    page = await open_page.open(locale="ru-RU")
    await page.goto(f"{server.url}/login")
    await expect(page.get_by_role("button", name="Войти")).to_be_visible()
    await staff_sign_in(page, server.url, operator.email)
    await page.locator(f"#conv-{conversation.id}").get_by_role("link").click()
    await expect(page).to_have_url(pane)
    await expect_russian(page)

    # --- the switch in the top bar (submits itself) -------------------------------------------
    switch = page.get_by_label("Язык")
    await expect(switch).to_have_value("ru")
    async with page.expect_navigation():
        await switch.select_option("en")
    await expect(page).to_have_url(pane)  # back where the operator was
    await expect_english(page)
    assert (await fresh(db_session, User, operator.id)).locale == "en"

    # --- kept: after a reload, and after signing out and in again ------------------------------
    await page.reload()
    await expect_english(page)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{server.url}/login")
    await staff_sign_in(page, server.url, operator.email)
    await page.goto(pane)
    await expect_english(page)

    # --- and on another computer: a Russian browser, no cookies; the saved choice wins ---------
    other = await open_page.open(locale="ru-RU")
    await other.goto(f"{server.url}/login")
    await expect(other.get_by_role("button", name="Войти")).to_be_visible()  # not signed in yet
    await staff_sign_in(other, server.url, operator.email)
    await other.goto(pane)
    await expect_english(other)
