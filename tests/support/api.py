"""The integration REST API from a test: a world of two branches, tokens issued through the
real service, and a client that sends ``Authorization: Bearer``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.api_tokens.service import ApiTokenService
from messenger.db.models import Branch, Inbox, User, UserRole
from tests.support.dashboard import quick_user
from tests.support.factories import make_branch, make_inbox

A_ORIGIN = "https://shop.example"
B_ORIGIN = "https://b.example"


@dataclass
class ApiWorld:
    """Branches A and B, an inbox each, operators of A (Anna, Artem) and of B (Boris), an
    admin; tokens: every branch (``all``), A only (``a``), B only (``b``)."""

    branch_a: Branch
    branch_b: Branch
    anna: User
    artem: User
    boris: User
    admin: User
    inbox_a: Inbox
    inbox_b: Inbox
    all: str
    a: str
    b: str


async def issue(db: AsyncSession, name: str, branches: list[int]) -> str:
    issued = await ApiTokenService(session=db).issue(name, branches)
    await db.commit()
    return issued.token


async def build_api_world(db: AsyncSession) -> ApiWorld:
    branch_a = await make_branch(db, "Alpha")
    branch_b = await make_branch(db, "Beta")
    anna = await quick_user(db, [branch_a], email="anna@example.com", name="Anna")
    artem = await quick_user(db, [branch_a], email="artem@example.com", name="Artem")
    boris = await quick_user(db, [branch_b], email="boris@example.com", name="Boris")
    admin = await quick_user(db, [], email="ada@example.com", name="Ada", role=UserRole.ADMIN)
    await db.commit()
    inbox_a = await make_inbox(db, name="Alpha shop", branch=branch_a, domains=["shop.example"])
    inbox_b = await make_inbox(db, name="Beta shop", branch=branch_b, domains=["b.example"])
    return ApiWorld(
        branch_a=branch_a,
        branch_b=branch_b,
        anna=anna,
        artem=artem,
        boris=boris,
        admin=admin,
        inbox_a=inbox_a,
        inbox_b=inbox_b,
        all=await issue(db, "CRM", []),
        a=await issue(db, "CRM Alpha", [branch_a.id]),
        b=await issue(db, "CRM Beta", [branch_b.id]),
    )


class Api:
    """``/api/v1/`` with one token."""

    def __init__(self, client: httpx.AsyncClient, token: str | None) -> None:
        self.client = client
        self.token = token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        query = {k: v for k, v in params.items() if v is not None}
        return await self.client.get(f"/api/v1{path}", params=query, headers=self.headers())

    async def post(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        return await self.client.post(f"/api/v1{path}", json=payload, headers=self.headers())

    async def patch(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        return await self.client.patch(f"/api/v1{path}", json=payload, headers=self.headers())

    async def ok(self, path: str, **params: Any) -> Any:
        response = await self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()
