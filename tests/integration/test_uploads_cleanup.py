"""``messenger cleanup``: uploads never sent in a message are deleted after
MESSENGER_UPLOAD_TTL_SECONDS, rows and files; sent and recent ones stay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Attachment
from tests.support.app import app_client
from tests.support.env import cli_env, run_cli
from tests.support.factories import make_inbox

SHOP = {"Origin": "https://shop.example"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
POLICY = {"attachments": {"enabled": True, "max_bytes": 4096, "content_types": ["image/png"]}}

pytestmark = pytest.mark.usefixtures("clean_db")


async def test_cleanup_deletes_old_unsent_uploads_and_their_files(
    env: dict[str, str], tmp_path: Path, db_session: AsyncSession
) -> None:
    inbox = await make_inbox(db_session, name="Files", domains=["shop.example"], settings=POLICY)
    app_env = {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_UPLOAD_TTL_SECONDS": "3600"}
    async with app_client(app_env, relaxed=True) as client:
        boot = await client.post(
            "/api/widget/bootstrap", json={"widget_token": inbox.widget_token}, headers=SHOP
        )
        auth = {**SHOP, "Authorization": f"Bearer {boot.json()['session_token']}"}
        ids = {}
        for name in ("sent", "old", "recent"):
            answer = await client.post(
                "/api/widget/attachments", files={"file": (f"{name}.png", PNG, "image/png")},
                headers=auth,
            )  # fmt: skip
            assert answer.status_code == 201, answer.text
            ids[name] = UUID(answer.json()["id"])
        sent = await client.post(
            "/api/widget/messages",
            json={"body": "file", "client_msg_id": "m1", "attachment_ids": [str(ids["sent"])]},
            headers=auth,
        )
        assert sent.status_code == 201, sent.text
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    await db_session.execute(
        update(Attachment)
        .where(Attachment.id.in_([ids["sent"], ids["old"]]))
        .values(created_at=two_hours_ago)
    )
    await db_session.commit()
    files = tmp_path / "attachments"
    assert len([p for p in files.rglob("*") if p.is_file()]) == 3

    cli = cli_env(**app_env)
    dry = run_cli("cleanup", "--dry-run", "--json", env=cli)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["unsent_uploads"] == 1
    assert len([p for p in files.rglob("*") if p.is_file()]) == 3

    done = run_cli("cleanup", "--json", env=cli)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"unsent_uploads": 1, "dry_run": False, "ttl_seconds": 3600}
    rows = {a.id: a for a in await db_session.scalars(select(Attachment))}
    assert set(rows) == {ids["sent"], ids["recent"]}
    left = {p.name for p in files.rglob("*") if p.is_file()}
    assert left == {rows[ids["sent"]].storage_key, rows[ids["recent"]].storage_key}

    again = run_cli("cleanup", env=cli)
    assert again.returncode == 0, again.stderr
    assert "deleted 0 upload(s)" in again.stdout
