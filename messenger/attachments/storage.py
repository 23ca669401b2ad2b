"""Where attachment bytes live. A local directory by default; an S3-compatible object store
(``attachments/object_store.py``) implements the same calls; ``MESSENGER_STORAGE_URL``
chooses."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from messenger.config import Settings

#: Chunks are gathered up to this size before one write (fewer thread hops, flat memory).
WRITE_BUFFER_BYTES = 256 * 1024


class TooLargeError(Exception):
    """The stream went past ``max_bytes``: nothing was kept."""


@dataclass(frozen=True, slots=True)
class Stored:
    key: str
    size: int
    sha256: str


class Storage(Protocol):
    async def save(self, data: bytes) -> str:
        """Store ``data``; return a new opaque key."""
        ...

    async def save_stream(self, chunks: AsyncIterator[bytes], max_bytes: int) -> Stored:
        """Store the chunks as they come; past ``max_bytes`` (or if ``chunks`` raises) keep
        nothing and raise (:class:`TooLargeError` for the cap)."""
        ...

    async def load(self, key: str) -> bytes: ...

    def stream(self, key: str) -> AsyncIterator[bytes]:
        """The stored bytes in chunks (a download never holds a whole file in memory)."""
        ...

    async def delete(self, key: str) -> None: ...


class LocalStorage:
    """Files under one directory, named by random keys (never by the uploader's file name)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        if not key.replace("-", "").replace("_", "").isalnum():
            raise ValueError("bad storage key")
        return self._root / key[:2] / key

    async def save(self, data: bytes) -> str:
        key = secrets.token_urlsafe(24)
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # readers never see half a file

        await asyncio.to_thread(write)
        return key

    async def save_stream(self, chunks: AsyncIterator[bytes], max_bytes: int) -> Stored:
        key = secrets.token_urlsafe(24)
        path = self._path(key)
        tmp = path.with_suffix(".part")
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        handle = await asyncio.to_thread(tmp.open, "xb")
        digest = hashlib.sha256()
        size = 0
        pending: list[bytes] = []
        pending_size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLargeError
                digest.update(chunk)
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= WRITE_BUFFER_BYTES:
                    await asyncio.to_thread(handle.write, b"".join(pending))
                    pending, pending_size = [], 0
            if pending:
                await asyncio.to_thread(handle.write, b"".join(pending))
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(os.replace, tmp, path)  # readers never see half a file
        except BaseException:
            await asyncio.shield(asyncio.to_thread(_discard, handle, tmp))
            raise
        return Stored(key=key, size=size, sha256=digest.hexdigest())

    async def load(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self._path(key).open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, WRITE_BUFFER_BYTES):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


def _discard(handle: object, tmp: Path) -> None:
    close = getattr(handle, "close", None)
    if close is not None:
        close()
    tmp.unlink(missing_ok=True)


def storage_from_settings(settings: Settings) -> Storage:
    """``MESSENGER_STORAGE_URL``: unset → the data directory, ``file:///…``, ``s3://…``."""
    url = settings.storage_url
    if url is None:
        return LocalStorage(settings.data_dir / "attachments")
    if url.startswith("file://"):
        return LocalStorage(Path(url.removeprefix("file://")))
    if url.startswith("s3://"):
        from messenger.attachments.object_store import S3Storage

        return S3Storage.from_settings(settings)
    msg = f"unsupported storage URL {url!r}"
    raise ValueError(msg)
