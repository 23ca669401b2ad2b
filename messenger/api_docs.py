"""The API docs page (``/schema``): Scalar from this server's own static files.

Litestar's ``ScalarRenderPlugin`` loads an unpinned script and a stylesheet from a CDN and
writes its options in an inline script. Here the page names only same-origin files: the
pinned ``@scalar/api-reference`` bundle that ``make vendor`` copies from npm into
``static/vendor/``, and ``static/docs/api-docs.js`` which starts it (no inline script, so
the page's Content-Security-Policy needs no ``'unsafe-inline'`` for scripts).
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request
from litestar.openapi.plugins import ScalarRenderPlugin

SCALAR_JS = "/static/vendor/scalar-api-reference.js"
START_JS = "/static/docs/api-docs.js"


class VendoredScalarPlugin(ScalarRenderPlugin):
    def __init__(self) -> None:
        super().__init__(js_url=SCALAR_JS, css_url=SCALAR_JS, path="/scalar")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = escape(str(openapi_schema["info"]["title"]))
        spec = escape(self.get_openapi_json_route(request))
        return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
</head>
<body>
<div id="api-docs" data-spec-url="{spec}"></div>
<script src="{SCALAR_JS}"></script>
<script src="{START_JS}"></script>
</body>
</html>
""".encode()
