"""The admin page of API tokens over HTTP: create (shown once), list with last use, revoke;
CSRF; admins only."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import UserRole
from tests.support.api import Api
from tests.support.app import app_client
from tests.support.dashboard import form_post, quick_user, signed_in
from tests.support.factories import make_branch

pytestmark = pytest.mark.timeout(90)

TOKEN = re.compile(r'<code id="issued-token">(msgr_[A-Za-z0-9_-]+)</code>')


async def test_admin_creates_sees_once_and_revokes_a_token(
    env: dict[str, str], db_session: AsyncSession, tmp_path: Any
) -> None:
    alpha = await make_branch(db_session, "Alpha")
    await quick_user(db_session, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN)
    await quick_user(db_session, [alpha], email="anna@example.com", name="Anna")
    await db_session.commit()
    app_env = {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}
    async with (
        app_client(app_env, relaxed=True) as admin,
        app_client(app_env, relaxed=True) as operator,
    ):
        await signed_in(admin, "ada@example.com")
        page = await admin.get("/admin/api-tokens/")
        assert page.status_code == 200
        assert "No API tokens yet." in page.text

        no_csrf = await admin.post(
            "/admin/api-tokens/", data={"name": "CRM"}, follow_redirects=False
        )
        assert no_csrf.status_code == 403
        refused = await form_post(admin, "/admin/api-tokens/", {"name": "  "})
        assert refused.status_code == 400
        assert "name" in refused.text

        created = await form_post(
            admin, "/admin/api-tokens/", {"name": "CRM <b>Alpha</b>", "branch_ids": [str(alpha.id)]}
        )
        assert created.status_code == 200, created.text
        assert created.headers["cache-control"] == "no-store"
        match = TOKEN.search(created.text)
        assert match, created.text
        token = match.group(1)
        assert "CRM &lt;b&gt;Alpha&lt;/b&gt;" in created.text
        again = await admin.get("/admin/api-tokens/")
        assert token not in again.text  # shown once
        assert "Never" in again.text

        api = Api(admin, token)
        assert (await api.get("/conversations")).status_code == 200
        used = await admin.get("/admin/api-tokens/")
        assert "Never" not in used.text  # the last-used time is shown

        token_id = re.search(r'id="api-token-(\d+)"', used.text)
        assert token_id
        # Operators do not see the page nor can they revoke.
        await signed_in(operator, "anna@example.com")
        assert (await operator.get("/admin/api-tokens/")).status_code == 404
        await operator.get("/conversations")
        forbidden = await form_post(operator, f"/admin/api-tokens/{token_id.group(1)}/revoke", {})
        assert forbidden.status_code == 404
        assert (await api.get("/conversations")).status_code == 200

        revoked = await form_post(admin, f"/admin/api-tokens/{token_id.group(1)}/revoke", {})
        assert revoked.status_code == 303
        assert (await api.get("/conversations")).status_code == 401
        assert "Revoked" in (await admin.get("/admin/api-tokens/")).text
