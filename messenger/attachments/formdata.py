"""One file out of a streamed ``multipart/form-data`` body, read as it arrives.

Litestar's ``MultipartBody`` parses the whole body (into memory or spooled files) before the
handler runs, so the session, origin and inbox policy could only be checked afterwards.
Here the handler checks them first and then reads the body itself: ``multipart``'s push
parser (the parser Litestar itself depends on) turns raw chunks into the part's headers and
its bytes, which go straight to storage. Nothing is buffered but the parser's small window.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

from messenger.attachments.files import looks_like_markup
from messenger.errors import DomainError, InvalidInputError
from messenger.i18n import N_

#: The bytes a multipart body may carry besides the file (boundaries, part headers).
ENVELOPE_BYTES = 16 * 1024
#: The first bytes of a file that are looked at before any of it is stored.
SNIFF_BYTES = 512


class PayloadTooLargeError(DomainError):
    status_code = 413
    code = "too_large"


class UnsupportedMediaError(DomainError):
    status_code = 415
    code = "unsupported_media_type"


@dataclass(slots=True)
class FilePart:
    """The ``file`` field: its declared name and type, and its bytes still to be read."""

    filename: str
    content_type: str
    chunks: AsyncIterator[bytes]


def boundary_of(content_type: str | None) -> str:
    kind, options = parse_options_header(content_type or "")
    boundary = options.get("boundary")
    if kind != "multipart/form-data" or not boundary or len(boundary) > 200:
        raise UnsupportedMediaError(N_("Send the file as multipart/form-data in the field “file”."))
    return str(boundary)


def too_large(max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        N_("The file is larger than %(bytes)d bytes."), params={"bytes": max_bytes}
    )


async def _events(body: AsyncIterator[bytes], boundary: str, max_body: int) -> AsyncIterator[Any]:
    received = 0
    try:
        with PushMultipartParser(
            boundary, max_header_count=8, max_segment_count=8, strict=True
        ) as parser:
            async for chunk in body:
                received += len(chunk)
                if received > max_body:
                    raise too_large(max_body - ENVELOPE_BYTES)
                for event in parser.parse(chunk):
                    yield event
                if parser.closed:
                    return
    except MultipartError:
        raise InvalidInputError(N_("The upload is not a valid multipart body.")) from None


async def _part_bytes(events: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    async for event in events:
        if event is None:
            return
        yield bytes(event)


async def _sniffed(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks, held back until the first bytes show the file is not markup."""
    head = b""
    async for chunk in chunks:
        if len(head) >= SNIFF_BYTES:
            yield chunk
            continue
        head += chunk
        if len(head) >= SNIFF_BYTES:
            _refuse_markup(head)
            yield head
    if len(head) < SNIFF_BYTES:
        if not head:
            raise InvalidInputError(N_("The file is empty."))
        _refuse_markup(head)
        yield head


def _refuse_markup(head: bytes) -> None:
    if looks_like_markup(head):
        raise UnsupportedMediaError(N_("The file looks like HTML, SVG or XML and is not accepted."))


async def file_part(
    body: AsyncIterator[bytes], content_type: str | None, max_bytes: int
) -> FilePart:
    """Read up to the headers of the ``file`` field (other fields are skipped); its bytes
    follow in ``chunks``, checked for markup before any is handed on. The whole body may
    not exceed ``max_bytes`` plus a small envelope (413)."""
    events = _events(body, boundary_of(content_type), max_bytes + ENVELOPE_BYTES)
    async for event in events:
        if isinstance(event, MultipartSegment) and event.name == "file" and event.filename:
            return FilePart(
                filename=str(event.filename),
                content_type=str(event.content_type or ""),
                chunks=_sniffed(_part_bytes(events)),
            )
    raise InvalidInputError(N_("The upload has no file in the field “file”."))
