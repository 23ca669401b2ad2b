"""Attachments in an S3-compatible object store (AWS S3, MinIO, Yandex Object Storage, …),
chosen by ``MESSENGER_STORAGE_URL=s3://bucket/prefix``, through ``obstore`` (async, one
compiled wheel, streamed multipart uploads) — so that every app host serves every file
without a shared filesystem.

The endpoint, region and credentials come from the ``MESSENGER_S3_*`` settings, or, when
those are unset, from the usual ``AWS_*`` environment (and instance credentials) that
``obstore`` reads itself. Downloads go through the app, with the same inert headers as
local files (``attachments/files.py``): no presigned URL ever reaches a browser.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import obstore
from obstore.store import S3Store

from messenger.attachments.storage import Stored, TooLargeError

if TYPE_CHECKING:
    from messenger.config import Settings

#: Multipart parts of an upload (S3's minimum part is 5 MiB; smaller files are one PUT).
PART_BYTES = 5 * 1024 * 1024
#: Chunks handed to a downloading client.
READ_CHUNK_BYTES = 256 * 1024


def _check(key: str) -> str:
    if not key.replace("-", "").replace("_", "").isalnum():
        raise ValueError("bad storage key")
    return f"{key[:2]}/{key}"


class S3Storage:
    def __init__(self, store: S3Store) -> None:
        self._store = store

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        url = settings.storage_url or ""
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        config: dict[str, Any] = {}
        if settings.s3_endpoint:
            config["endpoint"] = settings.s3_endpoint
        if settings.s3_region:
            config["region"] = settings.s3_region
        if settings.s3_access_key_id:
            config["access_key_id"] = settings.s3_access_key_id
        if settings.s3_secret_access_key:
            config["secret_access_key"] = settings.s3_secret_access_key
        store = S3Store(
            bucket,
            prefix=prefix.strip("/") or None,
            config=config,  # type: ignore[arg-type]  # a TypedDict filled key by key
            # A plain-http endpoint is a local MinIO or a test server; TLS is the default.
            client_options={"allow_http": str(settings.s3_endpoint).startswith("http://")},
        )
        return cls(store)

    async def save(self, data: bytes) -> str:
        key = secrets.token_urlsafe(24)
        await obstore.put_async(self._store, _check(key), data)
        return key

    async def save_stream(self, chunks: AsyncIterator[bytes], max_bytes: int) -> Stored:
        key = secrets.token_urlsafe(24)
        digest = hashlib.sha256()
        size = 0
        over = False

        async def counted() -> AsyncIterator[bytes]:
            nonlocal size, over
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    over = True
                    raise TooLargeError
                digest.update(chunk)
                yield chunk

        try:
            # A multipart upload: parts are sent as they fill, memory stays flat; if the
            # stream fails the upload is aborted and no object appears.
            await obstore.put_async(
                self._store, _check(key), counted(), chunk_size=PART_BYTES, max_concurrency=2
            )
        except BaseException:
            if over:  # obstore wraps what the stream raised: say what it was
                raise TooLargeError from None
            raise
        return Stored(key=key, size=size, sha256=digest.hexdigest())

    async def load(self, key: str) -> bytes:
        result = await obstore.get_async(self._store, _check(key))
        return bytes(await result.bytes_async())

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        result = await obstore.get_async(self._store, _check(key))
        async for chunk in result.stream(min_chunk_size=READ_CHUNK_BYTES):
            yield bytes(chunk)

    async def delete(self, key: str) -> None:
        await obstore.delete_async(self._store, _check(key))
