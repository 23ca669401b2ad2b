"""Helpers shared by the dashboard tests: in-process apps, signed-in staff clients, a widget
visitor.

The app client is ``tests.support.app.app_client``, the SSE reader ``tests.support.sse``.

Nothing here is a fixture; the test modules build their fixtures on top of these and the
conftest fixtures (real PostgreSQL and Redis).
"""

from __future__ import annotations

import functools
import re
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from messenger.accounts.passwords import hash_password
from messenger.db.models import Branch, User, UserRole
from tests.support.factories import PASSWORD

CSRF_COOKIE = "messenger_csrf"


_CONV_ID = re.compile(r'id="conv-([0-9a-f-]{36})"')
_MSG_ID = re.compile(r'id="msg-(\d+)"')


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


async def quick_user(
    db: AsyncSession,
    branches: list[Branch],
    *,
    email: str,
    name: str,
    role: UserRole = UserRole.OPERATOR,
) -> User:
    """A staff user whose password is ``PASSWORD``, like ``factories.make_user`` but with
    one Argon2 hash per run instead of one per user (the hash is the slow part)."""
    user = User(
        email=email, name=name, password_hash=_password_hash(), role=role, branches=branches
    )
    db.add(user)
    await db.flush()
    return user


def csrf_of(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


async def sign_in(
    client: httpx.AsyncClient,
    email: str,
    password: str = PASSWORD,
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    page = await client.get("/login", headers=headers)
    assert page.status_code == 200, page.text
    return await client.post(
        "/login",
        data={"_csrf_token": csrf_of(page.text), "email": email, "password": password},
        headers=headers,
        follow_redirects=False,
    )


async def signed_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> None:
    response = await sign_in(client, email, password)
    assert response.status_code == 303, response.text


def csrf_token(client: httpx.AsyncClient) -> str:
    token = client.cookies.get(CSRF_COOKIE)
    assert token, "no CSRF cookie yet (GET a page first)"
    return token


def htmx_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """What htmx sends: HX-Request, and the CSRF token from <body hx-headers>."""
    return {"HX-Request": "true", "x-csrftoken": csrf_token(client)}


async def hx_post(
    client: httpx.AsyncClient, path: str, data: dict[str, Any] | None = None
) -> httpx.Response:
    """An htmx POST (form-encoded body, CSRF in the header)."""
    return await client.post(
        path, data=data or {}, headers=htmx_headers(client), follow_redirects=False
    )


async def form_post(
    client: httpx.AsyncClient, path: str, data: dict[str, str | list[str]]
) -> httpx.Response:
    """A plain HTML form POST, CSRF token in the ``_csrf_token`` field (a list value is a
    repeated field, like checkboxes)."""
    return await client.post(
        path, data={**data, "_csrf_token": csrf_token(client)}, follow_redirects=False
    )


def listed_ids(html: str) -> set[str]:
    """Conversation ids in a rendered conversation list."""
    return set(_CONV_ID.findall(html))


def message_ids(html: str) -> list[int]:
    """Message ids in rendered history, in page order."""
    return [int(value) for value in _MSG_ID.findall(html)]


async def fresh(db: AsyncSession, model: type[Any], key: Any) -> Any:
    """The row as it is in the database now (other connections wrote meanwhile), with its
    relationships (loaded here, whatever the models' default loading)."""
    await db.commit()
    return await db.get(model, key, populate_existing=True, options=[selectinload("*")])


class Visitor:
    """A site visitor speaking the Widget API through ``client``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        widget_token: str,
        origin: str,
        *,
        user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) Test",
    ) -> None:
        self.client = client
        self.widget_token = widget_token
        self.origin = origin
        self.user_agent = user_agent
        self.session_token: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {"Origin": self.origin, "User-Agent": self.user_agent}
        if self.session_token:
            headers["Authorization"] = f"Bearer {self.session_token}"
        return headers

    async def bootstrap(self, **body: Any) -> dict[str, Any]:
        payload = {"widget_token": self.widget_token, **body}
        if self.session_token:
            payload.setdefault("session_token", self.session_token)
        response = await self.client.post(
            "/api/widget/bootstrap",
            json=payload,
            headers={"Origin": self.origin, "User-Agent": self.user_agent},
        )
        assert response.status_code == 200, response.text
        data = response.json()
        self.session_token = data["session_token"]
        return data

    async def send(self, body: str, **extra: Any) -> dict[str, Any]:
        if self.session_token is None:
            await self.bootstrap()
        payload = {"body": body, "client_msg_id": uuid.uuid4().hex, **extra}
        response = await self.client.post(
            "/api/widget/messages", json=payload, headers=self.headers()
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def offline(self, **body: Any) -> dict[str, Any]:
        if self.session_token is None:
            await self.bootstrap()
        payload = {"client_msg_id": uuid.uuid4().hex, **body}
        response = await self.client.post(
            "/api/widget/offline", json=payload, headers=self.headers()
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def upload(self, filename: str, content: bytes, content_type: str) -> dict[str, Any]:
        if self.session_token is None:
            await self.bootstrap()
        response = await self.client.post(
            "/api/widget/attachments",
            files={"file": (filename, content, content_type)},
            headers=self.headers(),
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def poll(self, after: int = 0) -> dict[str, Any]:
        response = await self.client.get(
            "/api/widget/messages", params={"after": after}, headers=self.headers()
        )
        assert response.status_code == 200, response.text
        return response.json()
