"""Rules for the bytes and names of uploaded files, and the headers that serve them inert."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote


def safe_filename(name: str) -> str:
    """A file name safe to show and to put in Content-Disposition: no path, no controls."""
    # Until nothing changes: removing a character can make a new composable pair (NFC),
    # cutting at 200 can leave a trailing space or dot; the result is a fixed point.
    for _ in range(8):
        before = name
        name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
        name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')
        name = name.strip(" .")[:200].strip(" .")
        if name == before:
            break
    return name or "file"


def looks_like_markup(head: bytes) -> bool:
    """HTML, SVG or XML, whatever the upload claims to be: refused (could run as a page)."""
    sample = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return sample.startswith((b"<", b"\x00<")) or b"<svg" in sample or b"<html" in sample


def content_disposition(filename: str) -> str:
    """``attachment`` (never inline) with an ASCII fallback and the RFC 5987 UTF-8 name."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in filename)
    encoded = quote(filename, safe="")
    return f"attachment; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{encoded}"


def served_media_type(content_type: str) -> str:
    """Text and XML are served as opaque bytes: a browser never renders them as a page."""
    if content_type.startswith(("text/", "application/xml")):
        return "application/octet-stream"
    return content_type


def download_headers(filename: str, *, cross_origin: bool = False) -> dict[str, str]:
    """The headers of every attachment download: a download, never sniffed, never active.

    ``cross_origin``: the widget's signed links are fetched from the customer's site.
    """
    headers = {
        "Content-Disposition": content_disposition(filename),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if cross_origin:
        headers["Cache-Control"] = "private, max-age=300"
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return headers
