"""Widget API security features, against real PostgreSQL, Redis and live app processes.

Throttling (the six limits, counted once for all processes), whose address counts
(``X-Forwarded-For`` only from a trusted proxy), the proof-of-work challenge, internal
notes never reaching a visitor, and the checks on uploads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db.models import Attachment
from tests.support.app import app_client
from tests.support.factories import make_inbox

ORIGIN = "https://shop.example"


HEADERS = {"Origin": ORIGIN}


#: Every limit roomy and the poll gap tiny; each test tightens only what it is about.
ROOMY = {
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP": "1000/minute",
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN": "1000/minute",
    "MESSENGER_WIDGET_SEND_RATE_PER_SESSION": "1000/minute",
    "MESSENGER_WIDGET_SEND_RATE_PER_IP": "1000/minute",
    "MESSENGER_WIDGET_POLL_RATE_PER_SESSION": "1000/minute",
    "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS": "0.001",
    "MESSENGER_WIDGET_TYPING_RATE_PER_SESSION": "1000/minute",
    "MESSENGER_WIDGET_READ_RATE_PER_SESSION": "1000/minute",
    "MESSENGER_WIDGET_TICKET_RATE_PER_SESSION": "1000/minute",
    "MESSENGER_WIDGET_STREAMS_PER_SESSION": "100",
    "MESSENGER_WIDGET_STREAMS_PER_IP": "100",
    "MESSENGER_WIDGET_UPLOAD_RATE_PER_SESSION": "1000/minute",
    "MESSENGER_WIDGET_UPLOAD_RATE_PER_IP": "1000/minute",
    "MESSENGER_WIDGET_DOWNLOAD_RATE_PER_IP": "1000/minute",
    "MESSENGER_WIDGET_CHALLENGE_THRESHOLD": "1000",
    "MESSENGER_STREAM_HEARTBEAT_SECONDS": "1",
}


def auth(session_token: str, **extra: str) -> dict[str, str]:
    return {**HEADERS, "Authorization": f"Bearer {session_token}", **extra}


# --- uploads ----------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


@pytest.fixture
def app_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env, **ROOMY, "MESSENGER_DATA_DIR": str(tmp_path)}


async def test_uploads_are_checked_and_served_as_inert_downloads(
    app_env: dict[str, str], db_session: AsyncSession
) -> None:
    inbox = await make_inbox(
        db_session,
        name="Files",
        domains=["shop.example"],
        settings={
            "attachments": {
                "enabled": True,
                "max_bytes": 1024,
                "content_types": ["image/png", "text/plain"],
            }
        },
    )
    plain = await make_inbox(db_session, name="No files", domains=["shop.example"])
    async with app_client(Settings.from_env(app_env)) as client:

        async def session_of(widget_token: str) -> str:
            response = await client.post(
                "/api/widget/bootstrap", json={"widget_token": widget_token}, headers=HEADERS
            )
            assert response.status_code == 200, response.text
            return response.json()["session_token"]

        token = await session_of(inbox.widget_token)

        async def upload(name: str, content: bytes, content_type: str, session: str = token) -> Any:
            return await client.post(
                "/api/widget/attachments",
                files={"file": (name, content, content_type)},
                headers=auth(session),
            )

        refused = {
            "html": (await upload("page.html", b"<p>hi</p>", "text/html"), 415),
            "svg": (await upload("a.svg", b"<svg></svg>", "image/svg+xml"), 415),
            "markup as text": (await upload("a.txt", b"<html><script>", "text/plain"), 415),
            "html named png": (await upload("a.html", PNG, "image/png"), 415),
            "not listed": (await upload("a.pdf", b"%PDF-1.4", "application/pdf"), 415),
            "too large": (await upload("big.png", PNG + b"\x00" * 1024, "image/png"), 413),
        }
        for name, (response, status) in refused.items():
            assert response.status_code == status, (name, response.status_code, response.text)
            body = response.json()
            assert body["error"], name
            assert body["detail"], name

        refused_plain = await upload(
            "a.png", PNG, "image/png", session=await session_of(plain.widget_token)
        )
        assert 400 <= refused_plain.status_code < 500, refused_plain.text
        assert refused_plain.json()["error"]
        assert await db_session.scalar(select(func.count()).select_from(Attachment)) == 0

        stored = await upload("photo.png", PNG, "image/png")
        assert stored.status_code == 201, stored.text
        assert stored.json()["content_type"] == "image/png"
        assert stored.json()["size"] == len(PNG)
        text = await upload("notes.txt", b"just words", "text/plain")
        assert text.status_code == 201, text.text

        sent = await client.post(
            "/api/widget/messages",
            json={
                "body": "see files",
                "client_msg_id": "with-files",
                "attachment_ids": [stored.json()["id"], text.json()["id"]],
            },
            headers=auth(token),
        )
        assert sent.status_code == 201, sent.text
        links = {a["filename"]: a["url"] for a in sent.json()["attachments"]}
        assert set(links) == {"photo.png", "notes.txt"}

        for filename, content in (("photo.png", PNG), ("notes.txt", b"just words")):
            download = await client.get(links[filename], headers=HEADERS)
            assert download.status_code == 200, download.text
            assert download.content == content
            assert download.headers["content-disposition"].startswith("attachment")
            assert download.headers["x-content-type-options"] == "nosniff"
            assert "sandbox" in download.headers["content-security-policy"]
            assert "text/" not in download.headers["content-type"]
