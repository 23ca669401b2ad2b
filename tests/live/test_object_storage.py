"""Attachments in an S3-compatible object store (MESSENGER_STORAGE_URL=s3://…), against a
real S3 protocol server (moto in server mode): one app process stores, another serves,
nothing on the local disk, an upload past the cap leaves no object and no unfinished
multipart upload behind.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.live.test_uploads import (
    MB,
    PNG,
    ROOMY,
    SHOP,
    file_body,
    files_policy,
    session_of,
    upload,
)
from tests.support.factories import make_inbox
from tests.support.s3 import S3Server
from tests.support.servers import LiveServer

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def s3() -> Iterator[S3Server]:
    server = S3Server().start()
    try:
        yield server
    finally:
        server.stop()


async def test_one_process_stores_in_the_bucket_and_another_serves(
    live_server: Callable[..., LiveServer], db_session: AsyncSession, s3: S3Server, tmp_path: Path
) -> None:
    inbox = await make_inbox(
        db_session, name="Files", domains=["shop.example"], settings=files_policy(8 * MB)
    )
    await db_session.commit()
    env = {**ROOMY, **s3.env(), "MESSENGER_DATA_DIR": str(tmp_path / "data")}
    storing, serving = await asyncio.gather(
        asyncio.to_thread(live_server, **env), asyncio.to_thread(live_server, **env)
    )
    session = await session_of(storing, inbox)

    # 6 MB streamed in (chunked, no declared length): a multipart upload of two parts.
    size = 6 * MB
    status, answer, _ = await upload(storing, session, file_body(size), content_length=None)
    assert status == 201, answer
    # The file inside the form: a PNG signature, then zeros (tests/live/test_uploads.py).
    expected = hashlib.sha256(PNG + bytes(size - len(PNG)))

    async with httpx.AsyncClient(timeout=30) as http:
        sent = await http.post(
            f"{storing.url}/api/widget/messages",
            json={"body": "a big photo", "client_msg_id": "big", "attachment_ids": [answer["id"]]},
            headers={"Origin": SHOP, "Authorization": f"Bearer {session}"},
        )
        assert sent.status_code == 201, sent.text
        (link,) = [a["url"] for a in sent.json()["attachments"]]
        path = link.split("://", 1)[-1].split("/", 1)[-1] if "://" in link else link.lstrip("/")

        # The other process serves it, from the bucket, with the inert download headers.
        download = await http.get(f"{serving.url}/{path}", headers={"Origin": SHOP})
    assert download.status_code == 200, download.text
    assert len(download.content) == size
    assert hashlib.sha256(download.content).hexdigest() == expected.hexdigest()
    assert download.headers["content-length"] == str(size)
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in download.headers["content-security-policy"]

    stored = s3.objects("uploads/")
    assert list(stored.values()) == [size]
    assert not (tmp_path / "data" / "attachments").exists()

    # Past the inbox's cap: refused, and the aborted multipart upload leaves nothing.
    status, answer, _ = await upload(storing, session, file_body(9 * MB), content_length=None)
    assert status == 413, answer
    assert s3.objects("uploads/") == stored
    assert s3.unfinished_uploads() == []
    assert "Traceback" not in storing.log()
