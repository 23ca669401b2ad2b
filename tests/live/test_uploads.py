"""Uploads against a live server over real sockets: every check comes before the body is
read, the body streams to storage with a hard cap, memory stays flat, a per-session quota.

The request is written by hand (asyncio streams) so the test decides what the server gets
and when: a refusal must arrive while the declared body is still unsent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Attachment, Inbox
from tests.support.factories import make_inbox
from tests.support.servers import LiveServer

SHOP = "https://shop.example"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
BOUNDARY = "----messenger-test-boundary"
MB = 1024 * 1024
ROOMY = {
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP": "1000/minute",
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN": "1000/minute",
    "MESSENGER_WIDGET_SEND_RATE_PER_SESSION": "1000/minute",
    "MESSENGER_WIDGET_SEND_RATE_PER_IP": "1000/minute",
    "MESSENGER_WIDGET_CHALLENGE_THRESHOLD": "1000",
}

StartServer = Callable[..., LiveServer]


def files_policy(max_bytes: int) -> dict[str, Any]:
    return {
        "attachments": {"enabled": True, "max_bytes": max_bytes, "content_types": ["image/png"]}
    }


def part_head(filename: str = "big.png", content_type: str = "image/png") -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()


PART_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


async def session_of(server: LiveServer, inbox: Inbox) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(
            f"{server.url}/api/widget/bootstrap",
            json={"widget_token": inbox.widget_token},
            headers={"Origin": SHOP},
        )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["session_token"])


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, Any]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    length = int(headers.get("content-length", headers.get("Content-Length", "0")))
    body = await reader.readexactly(length)
    return status, json.loads(body) if body else {}


async def upload(
    server: LiveServer,
    session: str | None,
    body: AsyncIterator[bytes],
    *,
    content_length: int | None,
    origin: str = SHOP,
) -> tuple[int, dict[str, Any], int]:
    """POST the body (chunked when no length is given) while reading the answer; the
    status, the JSON answer, and how many body bytes were written before it came."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    headers = [
        "POST /api/widget/attachments HTTP/1.1",
        f"Host: {server.host}:{server.port}",
        f"Origin: {origin}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
    ]
    if session is not None:
        headers.append(f"Authorization: Bearer {session}")
    headers.append(
        f"Content-Length: {content_length}"
        if content_length is not None
        else "Transfer-Encoding: chunked"
    )
    writer.write(("\r\n".join(headers) + "\r\n\r\n").encode())
    sent = 0

    async def send_body() -> None:
        nonlocal sent
        try:
            async for chunk in body:
                if not chunk:
                    continue  # an empty chunk would end a chunked body
                if content_length is None:
                    writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                else:
                    writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
            if content_length is None:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, OSError):
            pass  # the server answered and closed: it does not owe us the rest

    sender = asyncio.create_task(send_body())
    try:
        status, answer = await asyncio.wait_for(read_answer(reader), timeout=60)
        sent_before_answer = sent
    finally:
        sender.cancel()
        writer.close()
    return status, answer, sent_before_answer


async def never_sent() -> AsyncIterator[bytes]:
    """A body that never comes: only a server that answers before reading it can answer."""
    yield part_head()
    await asyncio.Event().wait()


async def file_body(size: int, head: bytes = PNG, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    yield part_head()
    yield head
    left = size - len(head)
    block = b"\x00" * chunk
    while left > 0:
        piece = block[: min(chunk, left)]
        left -= len(piece)
        yield piece
    yield PART_TAIL


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


async def test_refusals_come_before_the_body_is_read(
    live_server: StartServer, db_session: AsyncSession, data_dir: Path
) -> None:
    server = await asyncio.to_thread(
        live_server, **ROOMY, MESSENGER_DATA_DIR=str(data_dir), MESSENGER_UPLOAD_QUOTA_BYTES="40960"
    )
    files = await make_inbox(
        db_session, name="Files", domains=["shop.example"], settings=files_policy(64 * 1024)
    )
    plain = await make_inbox(db_session, name="Plain", domains=["shop.example"])
    token = await session_of(server, files)
    plain_token = await session_of(server, plain)
    huge = 100 * MB

    cases = {
        "no session": (None, SHOP, 401),
        "forged session": ("ws1.e30.AAAA", SHOP, 401),
        "foreign origin": (token, "https://evil.example", 403),
        "inbox takes no files": (plain_token, SHOP, 415),
        "declared length over the cap": (token, SHOP, 413),
    }
    for name, (session, origin, expected) in cases.items():
        status, answer, sent = await upload(
            server, session, never_sent(), content_length=huge, origin=origin
        )
        assert status == expected, (name, status, answer)
        assert answer["error"], name
        assert answer["detail"], name
        assert sent < 1024, name  # answered with the 100 MB body unsent

    # The quota: 40 KB a day. Two 20,000-byte files fit; a third that declares its length
    # is refused before its body, one that does not is read, refused and not kept.
    for n in range(2):
        ok_status, ok_answer, _ = await upload(
            server, token, file_body(20_000), content_length=None
        )
        assert ok_status == 201, (n, ok_answer)
    status, answer, sent = await upload(server, token, never_sent(), content_length=40_000)
    assert (status, answer["error"]) == (413, "upload_quota_exceeded"), answer
    assert sent < 1024
    status, answer, _ = await upload(server, token, file_body(2000), content_length=None)
    assert (status, answer["error"]) == (413, "upload_quota_exceeded"), answer
    assert await db_session.scalar(select(func.count()).select_from(Attachment)) == 2
    assert len(stored_files(data_dir / "attachments")) == 2


async def test_a_100_mb_attempt_streams_to_the_cap_with_flat_memory_and_leaves_nothing(
    live_server: StartServer, db_session: AsyncSession, data_dir: Path
) -> None:
    server = await asyncio.to_thread(
        live_server,
        **ROOMY,
        MESSENGER_DATA_DIR=str(data_dir),
        MESSENGER_UPLOAD_QUOTA_BYTES=str(1024 * MB),
    )
    assert server.process is not None
    inbox = await make_inbox(
        db_session, name="Files", domains=["shop.example"], settings=files_policy(100 * MB)
    )
    token = await session_of(server, inbox)
    warm = await upload(server, token, file_body(64 * 1024), content_length=None)
    assert warm[0] == 201, warm
    before = rss_kib(server.process.pid)

    # Accepted: 60 MB, streamed (chunked, no length announced), stored whole and exact.
    size = 60 * MB
    status, answer, _ = await upload(server, token, file_body(size), content_length=None)
    assert status == 201, answer
    assert answer["size"] == size
    row = await db_session.get(Attachment, uuid.UUID(answer["id"]))
    assert row is not None
    expected = hashlib.sha256(PNG + b"\x00" * (size - len(PNG))).hexdigest()
    assert row.sha256 == expected
    kept = stored_files(data_dir / "attachments")

    # Refused: 100 MB and a byte, chunked: read up to the cap, then 413, nothing kept.
    status, answer, sent = await upload(server, token, file_body(100 * MB + 1), content_length=None)
    assert (status, answer["error"]) == (413, "too_large"), answer
    assert sent <= 100 * MB + 64 * 1024 + 2 * 256 * 1024  # stopped at the cap, not after
    assert stored_files(data_dir / "attachments") == kept  # no partial file left
    assert len(kept) == 2  # the warm-up and the 60 MB file

    grown_mb = (rss_kib(server.process.pid) - before) / 1024
    assert grown_mb < 30, f"the server grew by {grown_mb:.0f} MB for 160 MB of uploads"


async def test_markup_and_wrong_types_are_refused_before_anything_is_stored(
    live_server: StartServer, db_session: AsyncSession, data_dir: Path
) -> None:
    server = await asyncio.to_thread(live_server, **ROOMY, MESSENGER_DATA_DIR=str(data_dir))
    inbox = await make_inbox(
        db_session, name="Files", domains=["shop.example"], settings=files_policy(MB)
    )
    token = await session_of(server, inbox)

    async def body(head: bytes, content: bytes) -> AsyncIterator[bytes]:
        yield head
        yield content
        yield PART_TAIL

    cases = {
        "html declared": (part_head("a.html", "text/html"), b"<p>x</p>", 415),
        "svg in a png": (part_head("a.png"), b"<svg onload=alert(1)>", 415),
        "not listed": (part_head("a.pdf", "application/pdf"), b"%PDF-1.4", 415),
        "empty": (part_head(), b"", 422),
        "no file field": (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="x"\r\n\r\n'.encode(),
            b"hello",
            422,
        ),
        "not multipart at all": (b"garbage", b"", 422),
    }
    for name, (head, content, expected) in cases.items():
        status, answer, _ = await upload(server, token, body(head, content), content_length=None)
        assert status == expected, (name, status, answer)
        assert answer["error"], name
        assert answer["detail"], name
    assert stored_files(data_dir / "attachments") == []
    assert await db_session.scalar(select(func.count()).select_from(Attachment)) == 0
