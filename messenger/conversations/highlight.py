"""Highlighted snippets of message bodies: the matched words in <mark>, everything else
escaped (visitors' text is hostile). Used by ``search.py``."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

#: Highlight marks: control characters removed from the body first, so that only the
#: marks ts_headline adds are turned into <mark> after the text is HTML-escaped.
START, STOP = "\x02", "\x03"
#: ``<`` and ``>`` stand in for themselves while ts_headline works: its parser would take
#: ``<b>`` for a tag and drop it from the snippet, and the visitor's text must stay whole.
LT, GT = "\x04", "\x05"
SNIPPET_CHARS = 60


def marked(text: str) -> Markup:
    """Escape everything, then turn the highlight marks (only) into <mark> elements."""
    out: list[str] = []
    inside = False
    for part in re.split(f"([{START}{STOP}])", text):
        if part == START and not inside:
            out.append("<mark>")
            inside = True
        elif part == STOP and inside:
            out.append("</mark>")
            inside = False
        elif part not in (START, STOP):
            out.append(str(escape(part)).replace(LT, "&lt;").replace(GT, "&gt;"))
    if inside:
        out.append("</mark>")
    return Markup("".join(out))  # noqa: S704 - every part above is escaped


def simple_headline(body: str, text: str) -> Markup:
    """A snippet around the first case-insensitive occurrence of ``text`` (embedded mode)."""
    clean = "".join(ch for ch in body if ch not in (START, STOP, LT, GT))
    at = clean.casefold().find(text.casefold())
    if at < 0 or len(clean) != len(clean.casefold()):
        return marked(clean[: SNIPPET_CHARS * 2])
    start = max(at - SNIPPET_CHARS, 0)
    end = at + len(text)
    return marked(clean[start:at] + START + clean[at:end] + STOP + clean[end : end + SNIPPET_CHARS])
