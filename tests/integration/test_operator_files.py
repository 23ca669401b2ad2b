"""Files from operators (issue 14, item 3), over HTTP in-process: the composer's upload has
the visitor uploads' checks (inbox policy, type, size, markup), is scoped (404 for an
outsider) and CSRF-protected; the file goes with the operator's next message and reaches
the widget as the same inert download."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Attachment, Branch, Inbox, Message, MessageSender, User
from tests.support.app import app_client
from tests.support.dashboard import Visitor, htmx_headers, quick_user, signed_in
from tests.support.factories import make_branch, make_inbox

pytestmark = pytest.mark.timeout(90)

ORIGIN = "https://shop.example"
POLICY = {
    "attachments": {
        "enabled": True,
        "max_bytes": 2048,
        "content_types": ["text/plain", "application/pdf"],
    }
}


@dataclass
class Desk:
    branch: Branch
    anna: User
    artem: User
    boris: User  # another branch
    inbox: Inbox
    closed_inbox: Inbox  # takes no files


@pytest.fixture
async def desk(db_session: AsyncSession) -> Desk:
    alpha, beta = await make_branch(db_session, "Alpha"), await make_branch(db_session, "Beta")
    result = Desk(
        branch=alpha,
        anna=await quick_user(db_session, [alpha], email="anna@example.com", name="Anna"),
        artem=await quick_user(db_session, [alpha], email="artem@example.com", name="Artem"),
        boris=await quick_user(db_session, [beta], email="boris@example.com", name="Boris"),
        inbox=await make_inbox(db_session, name="Shop", branch=alpha, settings=POLICY),
        closed_inbox=await make_inbox(
            db_session, name="No files", branch=alpha, domains=["plain.example"]
        ),
    )
    await db_session.commit()
    return result


@pytest.fixture
def app_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env, "MESSENGER_DATA_DIR": str(tmp_path), "MESSENGER_DEFAULT_LOCALE": "en"}


async def upload(
    client: httpx.AsyncClient, conversation_id: str, name: str, content: bytes, kind: str
) -> httpx.Response:
    headers = htmx_headers(client)
    headers.pop("HX-Request")
    return await client.post(
        f"/conversations/{conversation_id}/attachments",
        files={"file": (name, content, kind)},
        headers=headers,
    )


async def test_an_operators_file_reaches_the_widget_as_an_inert_download(
    desk: Desk, app_env: dict[str, Any], db_session: AsyncSession
) -> None:
    async with app_client(app_env, relaxed=True) as client:
        visitor = Visitor(client, desk.inbox.widget_token, ORIGIN)
        conversation_id = (await visitor.send("Please send the invoice"))["conversation_id"]
        await signed_in(client, desk.anna.email)
        await client.get(f"/conversations/{conversation_id}")  # the CSRF cookie

        stored = await upload(client, conversation_id, "invoice.txt", b"total: 42", "text/plain")
        assert stored.status_code == 201, stored.text
        file_id = stored.json()["id"]
        assert stored.json()["filename"] == "invoice.txt"
        # Sent alone, without text.
        sent = await client.post(
            f"/conversations/{conversation_id}/messages",
            data={"body": "", "kind": "message", "attachment_ids": file_id},
            headers=htmx_headers(client),
        )
        assert sent.status_code == 200, sent.text
        assert "invoice.txt" in sent.text
        assert f"/attachments/{file_id}" in sent.text  # the staff download

        polled = await visitor.poll()
        (reply,) = [m for m in polled["messages"] if m["sender"] == "operator"]
        assert reply["body"] == ""
        (attachment,) = reply["attachments"]
        assert attachment["filename"] == "invoice.txt"
        download = await client.get(attachment["url"], headers={"Origin": ORIGIN})
        assert download.status_code == 200, download.text
        assert download.content == b"total: 42"
        assert download.headers["content-disposition"].startswith("attachment")
        assert download.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in download.headers["content-security-policy"]
        assert "text/" not in download.headers["content-type"]

        # Sent once: the same file cannot go with a second message.
        again = await client.post(
            f"/conversations/{conversation_id}/messages",
            data={"body": "again", "kind": "message", "attachment_ids": file_id},
            headers=htmx_headers(client),
        )
        assert again.status_code == 422
        assert "already sent" in again.json()["detail"]

    await db_session.commit()
    row = await db_session.scalar(select(Attachment).where(Attachment.id == file_id))
    assert row is not None
    assert (row.uploaded_by_id, row.visitor_id) == (desk.anna.id, None)
    message = await db_session.get(Message, row.message_id)
    assert message is not None
    assert message.sender == MessageSender.OPERATOR


async def test_the_visitor_uploads_checks_apply_to_operators(
    desk: Desk, app_env: dict[str, Any]
) -> None:
    async with app_client(app_env, relaxed=True) as client:
        visitor = Visitor(client, desk.inbox.widget_token, ORIGIN)
        conversation_id = (await visitor.send("hi"))["conversation_id"]
        plain = Visitor(client, desk.closed_inbox.widget_token, "https://plain.example")
        closed_id = (await plain.send("hi"))["conversation_id"]
        await signed_in(client, desk.anna.email)
        await client.get("/conversations")

        wrong_type = await upload(client, conversation_id, "x.png", b"\x89PNG....", "image/png")
        assert wrong_type.status_code == 415
        markup = await upload(client, conversation_id, "x.txt", b"<html><script>", "text/plain")
        assert markup.status_code == 415
        big = await upload(client, conversation_id, "big.txt", b"a" * 4096, "text/plain")
        assert big.status_code == 413
        closed = await upload(client, closed_id, "x.txt", b"words", "text/plain")
        assert closed.status_code == 415
        no_csrf = await client.post(
            f"/conversations/{conversation_id}/attachments",
            files={"file": ("x.txt", b"words", "text/plain")},
        )
        assert no_csrf.status_code == 403

        mine = await upload(client, conversation_id, "mine.txt", b"words", "text/plain")
        assert mine.status_code == 201
        note = await client.post(
            f"/conversations/{conversation_id}/messages",
            data={"body": "a note", "kind": "note", "attachment_ids": mine.json()["id"]},
            headers=htmx_headers(client),
        )
        assert note.status_code == 422
        bad_ids = await client.post(
            f"/conversations/{conversation_id}/messages",
            data={"body": "x", "kind": "message", "attachment_ids": "not-an-id"},
            headers=htmx_headers(client),
        )
        assert bad_ids.status_code == 422
        empty = await client.post(
            f"/conversations/{conversation_id}/messages",
            data={"body": "  ", "kind": "message"},
            headers=htmx_headers(client),
        )
        assert empty.status_code == 422

    # Another operator of the branch may not send Anna's upload; an outsider gets a 404.
    async with app_client(app_env, relaxed=True) as colleague:
        await signed_in(colleague, desk.artem.email)
        await colleague.get("/conversations")
        taken = await colleague.post(
            f"/conversations/{conversation_id}/messages",
            data={"body": "mine now", "kind": "message", "attachment_ids": mine.json()["id"]},
            headers=htmx_headers(colleague),
        )
        assert taken.status_code == 422
    async with app_client(app_env, relaxed=True) as outsider:
        await signed_in(outsider, desk.boris.email)
        await outsider.get("/conversations")
        refused = await upload(outsider, conversation_id, "x.txt", b"words", "text/plain")
        assert refused.status_code == 404


async def test_an_operators_uploads_have_a_daily_quota(desk: Desk, app_env: dict[str, Any]) -> None:
    async with app_client(app_env, relaxed=True, MESSENGER_UPLOAD_QUOTA_BYTES="20") as client:
        visitor = Visitor(client, desk.inbox.widget_token, ORIGIN)
        conversation_id = (await visitor.send("hi"))["conversation_id"]
        await signed_in(client, desk.anna.email)
        await client.get("/conversations")
        for _ in range(2):
            fits = await upload(client, conversation_id, "nine.txt", b"123456789", "text/plain")
            assert fits.status_code == 201, fits.text
        over = await upload(client, conversation_id, "nine.txt", b"123456789", "text/plain")
        assert over.status_code == 413
        assert over.json()["error"] == "upload_quota_exceeded"
    # Another operator's quota is their own.
    async with app_client(app_env, relaxed=True, MESSENGER_UPLOAD_QUOTA_BYTES="20") as other:
        await signed_in(other, desk.artem.email)
        await other.get("/conversations")
        theirs = await upload(other, conversation_id, "nine.txt", b"123456789", "text/plain")
        assert theirs.status_code == 201
