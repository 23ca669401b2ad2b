"""The demo site: a page that embeds the widget exactly as a customer's site would.

``GET /demo`` renders a small shop page with the one ``<script>`` tag pointing at
``MESSENGER_PUBLIC_URL``. Open it from another origin than that (``http://localhost:8000/demo``
when the public URL is ``http://127.0.0.1:8000``) and the widget runs cross-origin, the way
it does on a real site. It exists only while the demo inbox does (``messenger demo``).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter, SkipValidation
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.contacts.identity import identity_hash
from messenger.db.models import Inbox
from messenger.demo.seed import DEMO_INBOX

#: The demo customer the page signs in as (its hash is computed here, on the server side,
#: as a customer's site would: the identity secret never reaches the browser).
DEMO_CUSTOMER = {
    "identifier": "demo-customer-1",
    "name": "Demo Customer",
    "email": "customer@demo.example",
}

#: The other name of the same machine: the demo page opened under it is another origin.
_TWIN_HOSTS = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def twin_url(public_url: str, path: str) -> str | None:
    """``public_url`` with localhost and 127.0.0.1 swapped (None for other hosts)."""
    parts = urlsplit(public_url)
    twin = _TWIN_HOSTS.get(parts.hostname or "")
    if twin is None:
        return None
    netloc = twin + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, path, "", ""))


class DemoController(Controller):
    include_in_schema = False

    @get("/demo", cache=False, name="demo")
    async def demo_page(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[SkipValidation[Settings]],
        customer: Annotated[str | None, QueryParameter(max_length=1)] = None,
    ) -> Template:
        """``?customer=1``: the page is "signed in" as the demo customer (a signed identity);
        ``?customer=0``: it signs out (``ProfiMessenger.logout()``)."""
        if not settings.enabled:
            raise NotFoundException("The messenger is switched off.")
        inbox = await db_session.scalar(
            select(Inbox)
            .where(Inbox.name == DEMO_INBOX, Inbox.is_active.is_(True))
            .order_by(Inbox.id)
            .limit(1)
        )
        if inbox is None:
            raise NotFoundException("No demo inbox: run 'messenger demo' first.")
        api_base = settings.public_url.rstrip("/")
        page_origin = _origin(str(request.url))
        return Template(
            "demo/page.html",
            context={
                "api_base": api_base,
                "script_src": f"{api_base}/static/messenger/widget.js",
                "widget_token": inbox.widget_token,
                "page_origin": page_origin,
                "same_origin": page_origin == _origin(api_base),
                "twin_url": twin_url(api_base, "/demo"),
                "identity": {
                    **DEMO_CUSTOMER,
                    "identity_hash": identity_hash(
                        inbox.identity_secret, DEMO_CUSTOMER["identifier"]
                    ),
                }
                if customer == "1"
                else None,
                "logout": customer == "0",
            },
        )
