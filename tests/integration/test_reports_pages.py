"""The Reports page and its CSV downloads over HTTP, in both languages, in branch scope."""
# ruff: noqa: RUF001 - the Russian page is meant to contain Cyrillic letters

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.app import app_client
from tests.support.dashboard import signed_in
from tests.support.report_data import BORIS_NAME, ReportDesk, build_report_desk

pytestmark = pytest.mark.timeout(90)

WEEK = "from=2026-11-02&to=2026-11-08"


@pytest.fixture
def app_env(env: dict[str, str], tmp_path: Any) -> dict[str, str]:
    return {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}


@pytest.fixture
async def desk(db_session: AsyncSession) -> ReportDesk:
    return await build_report_desk(db_session)


def figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert match, f"no figure {name}"
    return match.group(1).strip()


async def test_the_page_shows_the_figures_in_english_and_russian(
    app_env: dict[str, str], desk: ReportDesk
) -> None:
    async with app_client(app_env, relaxed=True) as client:
        await signed_in(client, desk.admin.email)
        page = await client.get(f"/reports?{WEEK}", headers={"accept-language": "en"})
        assert page.status_code == 200, page.text
        html = page.text
        assert "<h1>Reports</h1>" in html
        assert figure(html, "started") == "6"
        assert figure(html, "answered") == "4"
        assert figure(html, "resolved") == "4"
        assert figure(html, "frt_p50") == "6 min 0 s"
        assert figure(html, "rt_p90") == "1 h 42 min"
        assert 'id="report-data" hidden data-report=' in html
        assert "chart-daily" in html
        assert "chart-csat" in html
        assert 'data-heat="4-23">1<' in html  # Thursday 23:00 UTC: c4
        # The visitor-side text of the operator name is escaped, never markup.
        assert "=HYPERLINK(&#34;http://evil.example&#34;)" in html
        assert 'href="/reports/csv/operators?' in html

        ru = await client.get(f"/reports?{WEEK}", headers={"accept-language": "ru"})
        assert ru.status_code == 200
        assert "<h1>Отчёты</h1>" in ru.text
        assert "Самые загруженные часы" in ru.text
        assert figure(ru.text, "frt_p50") == "6 мин 0 с"


async def test_bad_input_is_a_clear_4xx(app_env: dict[str, str], desk: ReportDesk) -> None:
    async with app_client(app_env, relaxed=True) as client:
        await signed_in(client, desk.admin.email)
        backwards = await client.get("/reports?from=2026-11-08&to=2026-11-01")
        assert backwards.status_code == 422
        assert "The period starts after it ends." in backwards.text
        too_long = await client.get("/reports?from=2020-01-01&to=2026-11-01")
        assert too_long.status_code == 422
        assert "at most 366 days" in too_long.text
        assert (await client.get("/reports?from=yesterday")).status_code == 422
        assert (await client.get("/reports/csv/daily?to=2026-13-01")).status_code == 422
        assert (await client.get("/reports?inbox=abc")).status_code in {400, 422}
        assert (await client.get(f"/reports/csv/secrets?{WEEK}")).status_code == 404


async def test_a_csv_download_is_the_table_and_escapes_formulas(
    app_env: dict[str, str], desk: ReportDesk
) -> None:
    async with app_client(app_env, relaxed=True) as client:
        await signed_in(client, desk.admin.email)
        response = await client.get(f"/reports/csv/operators?{WEEK}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0][0] == "Operator"
        names = [row[0] for row in rows[1:]]
        assert "'" + BORIS_NAME in names
        assert BORIS_NAME not in names
        daily = await client.get(f"/reports/csv/daily?{WEEK}")
        assert daily.text.splitlines()[1] == "2026-11-02,1,1,0"


async def test_an_operator_sees_only_their_branches(
    app_env: dict[str, str], desk: ReportDesk
) -> None:
    async with app_client(app_env, relaxed=True) as client:
        await signed_in(client, desk.olga.email)
        page = await client.get(f"/reports?{WEEK}")
        assert page.status_code == 200
        # The week's five Alpha conversations (Olga's timezone is UTC), not Beta's c6.
        assert figure(page.text, "started") == "5"
        assert "HYPERLINK" not in page.text  # Boris (Beta) is neither a row nor an option
        assert "Beta shop" not in page.text
        assert (await client.get(f"/reports?{WEEK}&branch={desk.beta.id}")).status_code == 404
        csv_other = await client.get(f"/reports/csv/summary?{WEEK}&branch={desk.beta.id}")
        assert csv_other.status_code == 404
        summary = await client.get(f"/reports/csv/summary?{WEEK}")
        assert "Conversations started,5" in summary.text


async def test_signed_out_visitors_are_sent_to_sign_in(app_env: dict[str, str]) -> None:
    async with app_client(app_env, relaxed=True) as client:
        response = await client.get("/reports", follow_redirects=False)
        assert response.status_code in {302, 303, 401}
        csv_response = await client.get("/reports/csv/summary", follow_redirects=False)
        assert csv_response.status_code in {302, 303, 401}


async def test_the_embedded_sqlite_mode_says_reports_need_postgresql(tmp_path: Any) -> None:
    """Without PostgreSQL (make run's SQLite) the page says so instead of other figures."""
    from messenger.config import Settings
    from messenger.db import alchemy_config
    from messenger.db.models import UserRole
    from tests.support.dashboard import quick_user
    from tests.support.env import cli_env, run_cli

    env = cli_env(MESSENGER_DATA_DIR=str(tmp_path), MESSENGER_DEFAULT_LOCALE="en")
    run_cli("db", "upgrade", "--no-prompt", env=env, check=True)
    config = alchemy_config(Settings.from_env(env))
    try:
        async with config.get_session() as db:
            await quick_user(db, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN)
            await db.commit()
    finally:
        await config.get_engine().dispose()
    async with app_client(env, relaxed=True) as client:
        await signed_in(client, "ada@example.com")
        page = await client.get(f"/reports?{WEEK}")
        assert page.status_code == 200
        assert "Reports need PostgreSQL" in page.text
        assert "chart-daily" not in page.text
        assert (await client.get(f"/reports/csv/summary?{WEEK}")).status_code == 404
