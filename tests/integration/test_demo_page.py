"""The demo site (GET /demo): a page embedding the widget like a customer's site."""

from __future__ import annotations

import html

from sqlalchemy.ext.asyncio import AsyncSession

from messenger.cli import DEMO_DOMAINS, DEMO_INBOX
from messenger.config import Settings
from messenger.demo.controllers import twin_url
from tests.support.app import app_client
from tests.support.factories import make_branch, make_inbox


async def test_demo_page_embeds_the_widget_from_the_public_url(
    env: dict[str, str], db_session: AsyncSession
) -> None:
    branch = await make_branch(db_session, "Demo branch")
    inbox = await make_inbox(db_session, name=DEMO_INBOX, branch=branch, domains=DEMO_DOMAINS)
    await db_session.commit()
    settings = Settings.from_env({**env, "MESSENGER_PUBLIC_URL": "http://127.0.0.1:8000"})
    async with app_client(settings) as client:
        response = await client.get("/demo")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    tag = (
        '<script src="http://127.0.0.1:8000/static/messenger/widget.js" '
        f'data-widget-token="{html.escape(inbox.widget_token)}" async></script>'
    )
    assert tag in response.text
    assert 'data-profi-messenger="open"' in response.text
    assert "Different origins" in response.text  # the test client is another host


async def test_demo_page_is_404_without_the_demo_inbox_or_when_switched_off(
    env: dict[str, str], db_session: AsyncSession
) -> None:
    await make_inbox(db_session, name="Some shop", domains=["shop.example"])
    await db_session.commit()
    async with app_client(Settings.from_env(env)) as client:
        assert (await client.get("/demo")).status_code == 404
    await make_inbox(db_session, name=DEMO_INBOX, domains=DEMO_DOMAINS)
    await db_session.commit()
    off = Settings.from_env({**env, "MESSENGER_ENABLED": "0"})
    async with app_client(off) as client:
        assert (await client.get("/demo")).status_code == 404
    async with app_client(Settings.from_env(env)) as client:
        assert (await client.get("/demo")).status_code == 200


def test_twin_url_swaps_localhost_and_the_loopback_address() -> None:
    assert twin_url("http://127.0.0.1:8000", "/demo") == "http://localhost:8000/demo"
    assert twin_url("http://localhost:8000", "/demo") == "http://127.0.0.1:8000/demo"
    assert twin_url("https://crm.example.com", "/demo") is None


async def test_demo_page_signs_in_as_a_demo_customer_on_the_server_side(
    env: dict[str, str], db_session: AsyncSession
) -> None:
    from messenger.contacts.identity import identity_hash
    from messenger.demo.controllers import DEMO_CUSTOMER

    branch = await make_branch(db_session, "Demo branch")
    inbox = await make_inbox(db_session, name=DEMO_INBOX, branch=branch, domains=DEMO_DOMAINS)
    await db_session.commit()
    settings = Settings.from_env({**env, "MESSENGER_PUBLIC_URL": "http://127.0.0.1:8000"})
    async with app_client(settings) as client:
        anonymous = await client.get("/demo")
        signed = await client.get("/demo", params={"customer": "1"})
        signed_out = await client.get("/demo", params={"customer": "0"})
    expected = identity_hash(inbox.identity_secret, DEMO_CUSTOMER["identifier"])
    assert "ProfiMessenger.identify(" not in anonymous.text
    assert "Sign in as a demo customer" in anonymous.text
    assert "ProfiMessenger.identify(" in signed.text
    assert expected in signed.text
    assert inbox.identity_secret not in signed.text
    assert "ProfiMessenger.logout();" in signed_out.text
