"""A visitor speaking the Widget API, and small database reads for the widget tests.

Nothing here is a fixture: test modules build these on top of the conftest fixtures.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

ORIGIN = "https://shop.example"


async def count(db: AsyncSession, model: type[Any]) -> int:
    await db.commit()  # a fresh snapshot: other processes wrote meanwhile
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def fresh(db: AsyncSession, model: type[Any], key: Any) -> Any:
    """The row as it is in the database now, not as this session cached it."""
    await db.commit()
    return await db.get(model, key, populate_existing=True)


class WidgetVisitor:
    """One browser tab of a site visitor speaking the Widget API."""

    def __init__(
        self, client: httpx.AsyncClient, widget_token: str, *, origin: str = ORIGIN
    ) -> None:
        self.client = client
        self.widget_token = widget_token
        self.origin = origin
        self.session_token: str | None = None
        self.last_bootstrap: dict[str, Any] = {}

    def headers(self, extra: dict[str, str] | None = None, *, auth: bool = True) -> dict[str, str]:
        headers = {"Origin": self.origin}
        if auth and self.session_token:
            headers["Authorization"] = f"Bearer {self.session_token}"
        headers.update(extra or {})
        return headers

    async def bootstrap(
        self, *, headers: dict[str, str] | None = None, **body: Any
    ) -> dict[str, Any]:
        payload = {"widget_token": self.widget_token, **body}
        if self.session_token and "session_token" not in body:
            payload["session_token"] = self.session_token
        response = await self.client.post(
            "/api/widget/bootstrap", json=payload, headers=self.headers(headers, auth=False)
        )
        assert response.status_code == 200, response.text
        data = response.json()
        self.session_token = data["session_token"]
        self.last_bootstrap = data
        return data

    async def send_raw(
        self,
        body: str,
        client_msg_id: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> httpx.Response:
        payload = {"body": body, "client_msg_id": client_msg_id or uuid.uuid4().hex, **extra}
        return await self.client.post(
            "/api/widget/messages", json=payload, headers=self.headers(headers)
        )

    async def send(self, body: str, client_msg_id: str | None = None, **extra: Any) -> dict:
        response = await self.send_raw(body, client_msg_id, **extra)
        assert response.status_code == 201, response.text
        return response.json()

    async def poll(self, after: int = 0) -> dict[str, Any]:
        for _ in range(50):  # the minimum poll interval is tiny in tests; retry past it
            response = await self.client.get(
                "/api/widget/messages", params={"after": after}, headers=self.headers()
            )
            if response.status_code != 429:
                break
            await asyncio.sleep(0.02)
        assert response.status_code == 200, response.text
        return response.json()

    async def post(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        return await self.client.post(f"/api/widget{path}", json=payload, headers=self.headers())


def visitor_of(session_token: str) -> tuple[int, str]:
    """``(inbox_id, visitor_id)`` read from a token's (signed, not secret) payload (an
    identified session's payload has a flag more)."""
    payload = session_token.split(".")[1]
    inbox_id, visitor_id, *_ = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return inbox_id, visitor_id
