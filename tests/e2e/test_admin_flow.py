"""The admin's path from nothing to a working chat, in a real browser on a live server.

The admin creates an inbox with the form, copies its embed snippet with the page's Copy
button, and a customer page (another origin) carries exactly that tag. The widget is refused
until the admin allows the page's host on the inbox page (an IP address: the page warns
about it); then a visitor writes and the message reaches the admin's list live.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import expect
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Inbox, UserRole, Visitor
from messenger.presence import RedisPresence
from tests.e2e.conftest import (
    RELAXED_ENV,
    HostSite,
    Pages,
    dialog,
    eventually,
    host_page,
    launcher,
    message_log,
    open_chat,
    send,
    staff_sign_in,
)
from tests.support.dashboard import quick_user
from tests.support.factories import make_branch
from tests.support.servers import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

LIVE = 15_000
SNIPPET = re.compile(
    r'^<script src="(?P<base>https?://[^"/]+)/static/messenger/widget\.js" '
    r'data-widget-token="(?P<token>wt_[A-Za-z0-9_-]+)" async></script>$'
)


async def test_an_admin_creates_an_inbox_embeds_it_and_a_chat_works(
    db_session: AsyncSession,
    live_server: Callable[..., LiveServer],
    host_site: HostSite,
    open_page: Pages,
    redis: Redis,
    redis_prefix: str,
) -> None:
    branch = await make_branch(db_session, "Tea branch")
    admin = await quick_user(
        db_session, [branch], email="anna@example.com", name="Anna", role=UserRole.ADMIN
    )
    await db_session.commit()
    server = live_server(**RELAXED_ENV)

    page = await open_page.open(locale="en-US")
    await staff_sign_in(page, server.url, admin.email)

    # --- a new inbox, through the form -----------------------------------------------------
    await page.get_by_role("link", name="Inboxes").click()
    await expect(page).to_have_url(f"{server.url}/admin/inboxes")
    await expect(page.locator("table.grid")).to_contain_text("No inboxes yet.")
    form = page.locator("form[action='/admin/inboxes']")
    await form.get_by_label("Name").fill("Samovar shop")
    await form.get_by_label("Branch").select_option(label="Tea branch")
    await form.get_by_role("button", name="Create inbox").click()
    await expect(page).to_have_url(re.compile(rf"^{re.escape(server.url)}/admin/inboxes/\d+$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Samovar shop")
    inbox_id = int(page.url.rsplit("/", 1)[1])
    inbox = await db_session.scalar(select(Inbox).where(Inbox.id == inbox_id))
    assert inbox is not None
    assert (inbox.name, inbox.branch_id) == ("Samovar shop", branch.id)
    warning = page.locator("p.warning")
    await expect(warning).to_have_count(0)  # no domains yet: nothing to warn about

    # --- the snippet, with the page's Copy button ------------------------------------------
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    shown = await page.locator("#snippet").input_value()
    await page.get_by_role("button", name="Copy", exact=True).click()
    copied = await page.evaluate("() => navigator.clipboard.readText()")
    assert copied == shown
    match = SNIPPET.match(copied)
    assert match, copied
    assert match["token"] == inbox.widget_token
    # The snippet carries MESSENGER_PUBLIC_URL; this server listens elsewhere: only the base
    # address changes, the tag is otherwise pasted as it is.
    snippet = copied.replace(f'src="{match["base"]}/', f'src="{server.url}/', 1)
    assert snippet.count(inbox.widget_token) == 1
    shop = host_site.add(host_page(None, head=snippet))

    # --- not allowed yet: the page gets no chat ------------------------------------------
    refused = await open_page.open(shop, locale="en-US")
    answers: list[int] = []
    refused.on(
        "response",
        lambda r: answers.append(r.status) if r.url.endswith("/api/widget/bootstrap") else None,
    )
    await launcher(refused).click()
    # (An origin no inbox allows fails the CORS preflight, so the widget cannot read the 403
    # and says it cannot reach the chat; an origin another inbox allows gets "not available".)
    await expect(dialog(refused).get_by_role("status")).to_have_text(
        re.compile(r"The chat is not available on this site\.|Cannot reach the chat\.")
    )
    assert 200 not in answers
    assert await db_session.scalar(select(func.count()).select_from(Visitor)) == 0

    # --- the admin allows the page's host, and is warned it is an IP -------------------------
    host = urlsplit(host_site.origin).hostname
    assert host == "127.0.0.1"
    settings_form = page.locator(f"form[action='/admin/inboxes/{inbox_id}']")
    await settings_form.locator("textarea[name=allowed_domains]").fill(host)
    await settings_form.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    await expect(warning).to_be_visible()
    await expect(warning).to_contain_text("127.0.0.1")
    await expect(warning).to_contain_text("local, IP or test addresses")
    await expect(settings_form.locator("textarea[name=allowed_domains]")).to_have_value(host)

    async def origin_allowed() -> bool:
        async with httpx.AsyncClient(timeout=5) as client:
            answer = await client.options(
                f"{server.url}/api/widget/bootstrap",
                headers={
                    "Origin": host_site.origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type",
                },
            )
        return answer.headers.get("access-control-allow-origin") == host_site.origin

    # The API caches the allowed origins for a few seconds (its CORS preflights carry no token).
    await eventually(origin_allowed, within=10, interval=0.25)
    await page.reload()  # the warning stays on the inbox's page, not just after saving
    await expect(warning).to_be_visible()
    await expect(page.locator("#snippet")).to_have_value(copied)  # the same tag still

    # --- with the unified messenger open the admin is online: a visitor writes ---------------
    await page.get_by_role("link", name="Conversations").first.click()
    await expect(page).to_have_url(f"{server.url}/conversations")
    presence = RedisPresence(redis, prefix=f"{redis_prefix}:presence")

    async def admin_online() -> bool:
        return admin.id in await presence.online_user_ids(branch.id)

    await eventually(admin_online, within=10)
    listing = page.locator("#conversation-list")
    await expect(listing).to_contain_text("No conversations here.")

    visitor = await open_page.open(shop, locale="en-US")
    await open_chat(visitor)
    await send(visitor, "Do you ship samovars to Kazan?")
    await expect(message_log(visitor).get_by_role("img", name="Sent", exact=True)).to_be_visible()

    item = listing.locator(".conversation-item")
    await expect(item).to_have_count(1, timeout=LIVE)
    await expect(item).to_contain_text("Do you ship samovars to Kazan?")
    await expect(item).to_contain_text("Samovar shop · Tea branch")

    # ...and the admin's answer reaches the page
    await item.get_by_role("link").click()
    composer = page.locator("#composer")
    await composer.locator("textarea[name=body]").fill("Yes, in three days.")
    await composer.get_by_role("button", name="Send").click()
    await expect(message_log(visitor).get_by_text("Yes, in three days.")).to_be_visible(
        timeout=LIVE
    )
