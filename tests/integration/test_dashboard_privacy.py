"""The visitor panel's admin buttons: export (a zip: visitor.json and the files) and erase
(confirmation ticked, CSRF), audited with the admin and the address; operators get 404."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.storage import LocalStorage
from messenger.db.models import AuditEntry, UserRole
from tests.integration.test_privacy import dump, seed_person, stored_keys
from tests.support.app import app_client
from tests.support.dashboard import form_post, quick_user, signed_in
from tests.support.factories import make_branch, make_inbox

pytestmark = [pytest.mark.usefixtures("clean_db"), pytest.mark.timeout(120)]


async def test_admin_exports_and_erases_from_the_visitor_panel(
    env: dict[str, str], db_session: AsyncSession, tmp_path: Path
) -> None:
    alpha = await make_branch(db_session, "Alpha")
    admin = await quick_user(
        db_session, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN
    )
    await quick_user(db_session, [alpha], email="anna@example.com", name="Anna")
    inbox = await make_inbox(db_session, branch=alpha)
    storage = LocalStorage(tmp_path / "attachments")
    one, keys = await seed_person(db_session, storage, inbox, admin, "one", alpha.id)
    await seed_person(db_session, storage, inbox, admin, "two", alpha.id)
    visitor_id, conversation_id = one.visitor_id, one.id
    app_env = {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}
    async with (
        app_client(app_env, relaxed=True) as client,
        app_client(app_env, relaxed=True) as operator,
    ):
        await signed_in(operator, "anna@example.com")
        pane = await operator.get(f"/conversations/{conversation_id}")
        assert pane.status_code == 200
        assert "Erase visitor" not in pane.text  # admins only
        assert (
            await form_post(operator, f"/admin/visitors/{visitor_id}/export", {})
        ).status_code == 404
        denied = await form_post(
            operator, f"/admin/visitors/{visitor_id}/erase", {"confirm": "yes"}
        )
        assert denied.status_code == 404

        await signed_in(client, "ada@example.com")
        page = await client.get(f"/conversations/{conversation_id}")
        assert f"/admin/visitors/{visitor_id}/erase" in page.text
        exported = await form_post(client, f"/admin/visitors/{visitor_id}/export", {})
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(exported.content))
        document = json.loads(archive.read("visitor.json"))
        assert document["visitor"]["email"] == "ivan@private.example-one"
        pdf = next(n for n in archive.namelist() if n.endswith("passport-one.pdf"))
        assert archive.read(pdf) == b"passport scan one"

        no_csrf = await client.post(
            f"/admin/visitors/{visitor_id}/erase", data={"confirm": "yes"}, follow_redirects=False
        )
        assert no_csrf.status_code == 403
        unconfirmed = await form_post(client, f"/admin/visitors/{visitor_id}/erase", {})
        assert unconfirmed.status_code == 422
        assert "Ivan Secretov-one" in await dump(db_session)

        erased = await form_post(
            client,
            f"/admin/visitors/{visitor_id}/erase",
            {"confirm": "yes", "conversation_id": str(conversation_id)},
        )
        assert erased.status_code == 303
        assert erased.headers["location"] == f"/conversations/{conversation_id}"
        after = await client.get(f"/conversations/{conversation_id}")
        assert after.status_code == 200
        assert "[erased]" in after.text
        assert not re.search(r"4111-one|Ivan Secretov-one", after.text)

    everything = await dump(db_session)
    assert "-one" not in everything
    assert "Ivan Secretov-two" in everything
    assert not stored_keys(tmp_path / "attachments") & set(keys)
    entries = list(
        await db_session.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(["visitor.export", "visitor.erase"]))
        )
    )
    assert sorted(e.action for e in entries) == ["visitor.erase", "visitor.export"]
    assert {(e.actor_email, e.target) for e in entries} == {
        ("ada@example.com", f"visitor:{visitor_id}")
    }
    assert all(e.ip for e in entries)
