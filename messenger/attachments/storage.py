"""Where attachment bytes live. A local directory by default; another backend (an object
store) implements the same three calls and is chosen by ``MESSENGER_STORAGE_URL``."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from typing import Protocol


class Storage(Protocol):
    async def save(self, data: bytes) -> str:
        """Store ``data``; return a new opaque key."""
        ...

    async def load(self, key: str) -> bytes: ...

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

    async def load(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


def storage_from_url(url: str | None, data_dir: Path) -> Storage:
    if url is None:
        return LocalStorage(data_dir / "attachments")
    if url.startswith("file://"):
        return LocalStorage(Path(url.removeprefix("file://")))
    msg = f"unsupported storage URL {url!r}"
    raise ValueError(msg)
