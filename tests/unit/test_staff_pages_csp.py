"""Staff page templates run under a CSP without inline script (issue 11, item 7): no
``<script>`` without ``src``, no ``on*=`` handlers, no ``hx-on``, no ``javascript:`` URLs, no
inline styles, nothing htmx would evaluate; htmx is configured for that CSP in base.html."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from messenger.security_headers import DOCS_CSP, STAFF_CSP, headers_for

ROOT = Path(__file__).resolve().parents[2]
#: The demo page plays a customer's site (its own inline script is the embed example).
STAFF_TEMPLATES = sorted(
    p for p in (ROOT / "templates").rglob("*.html") if "demo" not in p.relative_to(ROOT).parts
)


class InlineCode(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script_without_src = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower(): value or "" for name, value in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")
        for name, value in names.items():
            if name.startswith("on") or name.startswith(("hx-on", "data-hx-on")):
                self.found.append(f"{name}= handler")
            if name == "style":
                self.found.append("style= attribute")
            if value.strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL in {name}")
            if name.startswith(("hx-vals", "hx-headers", "hx-vars")) and "js:" in value:
                self.found.append(f"{name} evaluated by htmx")
            if name == "hx-trigger" and re.search(r"(?:^|,)\s*[\w:.-]+\[", value):
                self.found.append("hx-trigger filter (evaluated by htmx)")
        if tag == "style":
            self.found.append("<style> element")


def test_there_are_staff_templates() -> None:
    assert len(STAFF_TEMPLATES) > 10
    assert any(p.name == "base.html" for p in STAFF_TEMPLATES)


def test_no_staff_template_has_inline_script_or_style() -> None:
    problems = {}
    for path in STAFF_TEMPLATES:
        parser = InlineCode()
        parser.feed(path.read_text(encoding="utf-8"))
        if parser.found:
            problems[str(path.relative_to(ROOT))] = parser.found
    assert problems == {}


def test_htmx_is_configured_for_the_csp() -> None:
    base = (ROOT / "templates" / "base.html").read_text(encoding="utf-8")
    match = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", base)
    assert match, "no htmx-config meta in base.html"
    config = json.loads(match.group(1))
    assert config["includeIndicatorStyles"] is False
    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False


def test_the_policies_allow_no_inline_script_and_no_framing() -> None:
    for policy in (STAFF_CSP, DOCS_CSP):
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'"
        assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in STAFF_CSP


def test_which_paths_get_which_headers() -> None:
    def names(path: str, https: bool = False) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in headers_for(path, https=https)}

    for staff in ("/", "/login", "/conversations", "/admin/inboxes/1", "/account"):
        got = names(staff)
        assert got["content-security-policy"] == STAFF_CSP, staff
        assert got["x-frame-options"] == "DENY"
        assert got["referrer-policy"] == "same-origin"
        assert got["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in got
    assert names("/schema")["content-security-policy"] == DOCS_CSP
    for embedded in ("/api/widget/bootstrap", "/static/messenger/widget.js", "/demo"):
        assert set(names(embedded)) == {"x-content-type-options"}, embedded
    assert names("/login", https=True)["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" in names("/api/widget/bootstrap", https=True)
