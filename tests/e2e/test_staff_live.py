"""Issue 13 in the browser: the unified messenger loses nothing and stores nothing twice.

- A reply whose answer is lost (the server stored it, the browser saw a network error) and
  that the operator sends again is stored once and shown once: the composer keeps one
  client message id per draft.
- The server process behind an open conversation goes away while messages arrive through
  another process; when it is back, the page's stream reconnects with its last id and the
  missed messages appear once each, in order, without a reload.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import Route, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Message
from tests.e2e.conftest import RELAXED_ENV, Pages, Site, staff_sign_in
from tests.support.dashboard import Visitor
from tests.support.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

LIVE = 15_000


async def _history_ids(page: Any) -> list[int]:
    ids: list[str] = await page.locator("#history [id^='msg-']").evaluate_all(
        "els => els.map(e => e.id)"
    )
    return [int(i.removeprefix("msg-")) for i in ids]


async def _posted(posts: list[str], count: int) -> None:
    async def enough() -> bool:
        return len(posts) >= count

    await eventually(enough, within=10)


async def _open_conversation(site: Site, pages: Pages) -> tuple[Any, str, Visitor]:
    client = httpx.AsyncClient(base_url=site.server.url, timeout=10)
    visitor = Visitor(client, site.token, site.server.url)
    conversation_id = (await visitor.send("Where is my order 1042?"))["conversation_id"]
    page = await pages.open(locale="en-US")
    await staff_sign_in(page, site.server.url, site.operator.email)
    async with page.expect_response(lambda r: "/dashboard/stream?conversation=" in r.url):
        await page.goto(f"{site.server.url}/conversations/{conversation_id}")
    await expect(page.locator("#history article.visitor")).to_contain_text("order 1042")
    return page, conversation_id, visitor


async def test_a_reply_sent_again_after_a_lost_answer_is_stored_and_shown_once(
    widget_site: Any, open_page: Pages, db_session: AsyncSession
) -> None:
    site: Site = await widget_site()
    page, _conversation_id, visitor = await _open_conversation(site, open_page)
    posts: list[str] = []

    async def lose_the_first_answer(route: Route) -> None:
        posts.append(route.request.post_data or "")
        if len(posts) == 1:
            await route.fetch()  # the server stores the reply ...
            await route.abort("connectionreset")  # ... and its answer never arrives
        else:
            await route.continue_()

    await page.route(re.compile(r".*/conversations/[^/]+/messages$"), lose_the_first_answer)
    composer = page.locator("#composer")
    await composer.locator("textarea[name=body]").fill("It ships today")
    await composer.get_by_role("button", name="Send").click()
    await _posted(posts, 1)
    # The draft is still there, with its id; the operator clicks Send again.
    await expect(composer.locator("textarea[name=body]")).to_have_value("It ships today")
    draft_id = await composer.locator("input[name=client_msg_id]").input_value()
    assert draft_id.startswith("op-")
    await composer.get_by_role("button", name="Send").click()
    await _posted(posts, 2)
    await expect(composer.locator("textarea[name=body]")).to_have_value("")

    assert all(f"client_msg_id={draft_id}" in body for body in posts)
    replies = page.locator("#history article.operator", has_text="It ships today")
    await expect(replies).to_have_count(1)
    await db_session.commit()
    stored = list(
        await db_session.scalars(
            select(Message.client_msg_id).where(Message.body == "It ships today")
        )
    )
    assert stored == [draft_id]
    # The next draft gets an id of its own.
    await expect(composer.locator("input[name=client_msg_id]")).to_have_value("")
    await composer.locator("textarea[name=body]").fill("Anything else?")
    await composer.get_by_role("button", name="Send").click()
    await expect(page.locator("#history article.operator")).to_have_count(2)
    assert len(set(re.findall(r"client_msg_id=([^&]+)", "&".join(posts)))) == 2
    await visitor.client.aclose()


async def test_the_open_conversation_catches_up_after_its_server_restarts(
    widget_site: Any, open_page: Pages, live_server: Any
) -> None:
    site: Site = await widget_site()
    page, conversation_id, visitor = await _open_conversation(site, open_page)
    await page.evaluate("() => { window.__sameDocument = true; }")
    shown_before = await _history_ids(page)

    # The page's server goes away; the visitor goes on writing through another process,
    # and a colleague adds a note.
    site.server.stop()
    other = live_server(**RELAXED_ENV)
    async with httpx.AsyncClient(base_url=other.url, timeout=10) as client:
        elsewhere = Visitor(client, site.token, other.url)
        elsewhere.session_token = visitor.session_token
        missed = [(await elsewhere.send(f"while you were away #{n}"))["id"] for n in range(5)]
    note = await site.desk.note(conversation_id, site.operator.id, "colleague's note")
    site.server.start()  # the same address: the page's stream reconnects there

    history = page.locator("#history")
    await expect(history.locator(f"#msg-{note.id}")).to_contain_text(
        "colleague's note", timeout=LIVE
    )
    ids = await _history_ids(page)
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids))
    assert ids[: len(shown_before)] == shown_before
    assert [i for i in ids if i > shown_before[-1]] == [*missed, note.id]
    assert await page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    await visitor.client.aclose()
