"""The admin page of webhook endpoints over HTTP: register (SSRF guard), secret, test event,
send again, the switched-off notice; operators get 404; CSRF on every change."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import User, UserRole, WebhookDelivery, WebhookEndpoint
from tests.support.app import app_client
from tests.support.dashboard import form_post, quick_user, signed_in
from tests.support.factories import make_branch

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def app_env(env: dict[str, str], tmp_path: Any) -> dict[str, str]:
    return {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}


@pytest.fixture
async def people(db_session: AsyncSession) -> tuple[User, User]:
    branch = await make_branch(db_session)
    admin = await quick_user(
        db_session, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN
    )
    operator = await quick_user(db_session, [branch], email="anna@example.com", name="Anna")
    await db_session.commit()
    return admin, operator


async def endpoints(db: AsyncSession) -> list[WebhookEndpoint]:
    await db.commit()
    return list(await db.scalars(select(WebhookEndpoint).execution_options(populate_existing=True)))


async def deliveries(db: AsyncSession) -> int:
    await db.commit()
    return int(await db.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)


async def test_an_admin_registers_an_endpoint_and_works_its_log(
    app_env: dict[str, str], people: tuple[User, User], db_session: AsyncSession
) -> None:
    admin, _ = people
    async with app_client(
        {**app_env, "MESSENGER_WEBHOOK_ALLOW_PRIVATE": "1"}, relaxed=True
    ) as client:
        await signed_in(client, admin.email)
        created = await form_post(
            client,
            "/admin/webhooks/",
            {"url": "http://127.0.0.1:9/hooks", "events": ["message.created", "note.created"]},
        )
        assert created.status_code == 303
        [endpoint] = await endpoints(db_session)
        assert endpoint.events == ["message.created", "note.created"]
        assert created.headers["location"] == f"/admin/webhooks/{endpoint.id}"
        page = await client.get(f"/admin/webhooks/{endpoint.id}")
        assert page.status_code == 200
        assert endpoint.secret.startswith("whsec_")
        assert endpoint.secret in page.text

        tested = await form_post(client, f"/admin/webhooks/{endpoint.id}/test", {})
        assert tested.status_code == 303
        assert await deliveries(db_session) == 1
        page = await client.get(f"/admin/webhooks/{endpoint.id}")
        assert "webhook.test" in page.text
        delivery_id = await db_session.scalar(select(WebhookDelivery.id))
        again = await form_post(
            client, f"/admin/webhooks/{endpoint.id}/deliveries/{delivery_id}/again", {}
        )
        assert again.status_code == 303
        assert await deliveries(db_session) == 2
        missing = await form_post(
            client, f"/admin/webhooks/{endpoint.id}/deliveries/999999/again", {}
        )
        assert missing.status_code == 404

        off = await form_post(client, f"/admin/webhooks/{endpoint.id}/enabled", {})
        assert off.status_code == 303
        assert not (await endpoints(db_session))[0].enabled
        no_csrf = await client.post(f"/admin/webhooks/{endpoint.id}/enabled", data={"enabled": "1"})
        assert no_csrf.status_code == 403
        assert not (await endpoints(db_session))[0].enabled

        gone = await form_post(client, f"/admin/webhooks/{endpoint.id}/delete", {})
        assert gone.status_code == 303
        assert await endpoints(db_session) == []


async def test_private_urls_and_unknown_events_are_refused_with_a_message(
    app_env: dict[str, str], people: tuple[User, User], db_session: AsyncSession
) -> None:
    admin, _ = people
    async with app_client(app_env, relaxed=True) as client:
        await signed_in(client, admin.email)
        private = await form_post(client, "/admin/webhooks/", {"url": "http://169.254.169.254/x"})
        assert private.status_code == 400
        assert "private or reserved address" in private.text
        odd = await form_post(
            client, "/admin/webhooks/", {"url": "http://127.0.0.1/x", "events": "nope"}
        )
        assert odd.status_code == 400
    assert await endpoints(db_session) == []


async def test_a_switched_off_endpoint_shows_a_notice(
    app_env: dict[str, str], people: tuple[User, User], db_session: AsyncSession
) -> None:
    admin, _ = people
    from datetime import UTC, datetime

    endpoint = WebhookEndpoint(
        url="https://crm.example.com/hooks",
        secret="whsec_x",
        events=[],
        enabled=False,
        failure_streak=50,
        disabled_at=datetime.now(UTC),
        disabled_reason="50 failed attempts in a row",
    )
    db_session.add(endpoint)
    await db_session.commit()
    async with app_client(app_env, relaxed=True) as client:
        await signed_in(client, admin.email)
        page = await client.get("/admin/webhooks/")
        assert "webhook-notice" in page.text
        assert "https://crm.example.com/hooks" in page.text


async def test_operators_do_not_see_webhooks(
    app_env: dict[str, str], people: tuple[User, User], db_session: AsyncSession
) -> None:
    _, operator = people
    async with app_client(
        {**app_env, "MESSENGER_WEBHOOK_ALLOW_PRIVATE": "1"}, relaxed=True
    ) as client:
        await signed_in(client, operator.email)
        assert (await client.get("/admin/webhooks/")).status_code == 404
        refused = await form_post(client, "/admin/webhooks/", {"url": "http://127.0.0.1/x"})
        assert refused.status_code == 404
    assert await endpoints(db_session) == []
