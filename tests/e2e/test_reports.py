"""The Reports page in Chromium under the staff CSP: Chart.js (vendored) draws both charts
from the page's JSON block, in the reader's language, with no console error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import ConsoleMessage, expect
from sqlalchemy.ext.asyncio import AsyncSession

from tests.e2e.conftest import Pages, staff_sign_in
from tests.support.app import RELAXED_ENV
from tests.support.report_data import build_report_desk

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

WEEK = "from=2026-11-02&to=2026-11-08"

CHARTS = """() => {
  const chart = (id) => window.Chart && window.Chart.getChart(document.getElementById(id));
  const daily = chart('chart-daily'), csat = chart('chart-csat');
  return {
    daily: daily ? daily.data.datasets.map((d) => [d.label, d.data]) : null,
    csat: csat ? csat.data.datasets[0].data : null,
    drawn: !!daily && daily.canvas.width > 0 && !!csat && csat.canvas.width > 0,
  };
}"""


@pytest.mark.parametrize(
    ("locale", "title", "started"), [("en-US", "Reports", "Started"), ("ru-RU", "Отчёты", "Начато")]
)
async def test_the_reports_page_draws_its_charts(
    locale: str,
    title: str,
    started: str,
    live_server: Callable[..., Any],
    open_page: Pages,
    db_session: AsyncSession,
) -> None:
    await build_report_desk(db_session)
    server = live_server(**RELAXED_ENV)
    page = await open_page.open(locale=locale)
    console_errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    page.on("console", on_console)
    await staff_sign_in(page, server.url, "ada@example.com")
    await page.goto(f"{server.url}/reports?{WEEK}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(title)
    await expect(page.locator("canvas#chart-daily")).to_be_visible()
    await expect(page.locator("canvas#chart-csat")).to_be_visible()
    charts = await page.evaluate(CHARTS)
    assert charts["drawn"] is True
    assert charts["csat"] == [1, 0, 1, 1, 1]
    assert charts["daily"][0] == [started, [1, 2, 1, 1, 1]]
    # The heat map's numbers are in the page, not only its shades.
    await expect(page.locator('td[data-heat="4-23"]')).to_have_text("1")
    assert console_errors == []
