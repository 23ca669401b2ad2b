"""The app factory's operational surface: liveness, readiness, the API docs, JSON errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from litestar.testing import AsyncTestClient

from messenger.config import Settings
from tests.support.app import app_client

CLOSED_REDIS = "redis://127.0.0.1:1/0"
CLOSED_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:1/messenger"

ClientFactory = Callable[..., AbstractAsyncContextManager[AsyncTestClient]]


@pytest.fixture
def client_for(env: dict[str, str]) -> ClientFactory:
    """A test client on an app built from the test environment plus ``overrides``."""

    @asynccontextmanager
    async def factory(**overrides: str) -> AsyncIterator[AsyncTestClient]:
        settings = Settings.from_env({**env, **overrides})
        async with app_client(settings) as client:
            yield client

    return factory


async def test_health(client_for: ClientFactory) -> None:
    async with client_for() as client:
        response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_health_answers_even_when_redis_and_database_are_down(
    client_for: ClientFactory,
) -> None:
    async with client_for(REDIS_URL=CLOSED_REDIS, DATABASE_URL=CLOSED_DATABASE) as client:
        response = await client.get("/health")

    assert response.status_code == 200


async def test_ready_on_postgres_and_redis(client_for: ClientFactory) -> None:
    async with client_for() as client:
        response = await client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "live": "ok"},
    }


async def test_ready_names_redis_when_redis_is_down(client_for: ClientFactory) -> None:
    async with client_for(REDIS_URL=CLOSED_REDIS) as client:
        response = await client.get("/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unavailable")


async def test_ready_names_the_database_when_it_is_down(client_for: ClientFactory) -> None:
    async with client_for(DATABASE_URL=CLOSED_DATABASE) as client:
        response = await client.get("/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"] == "ok"
    assert body["checks"]["database"].startswith("unavailable")


async def test_schema_page_is_html(client_for: ClientFactory) -> None:
    async with client_for() as client:
        response = await client.get("/schema")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()
    assert "openapi.json" in response.text


async def test_openapi_document_lists_health_and_ready(client_for: ClientFactory) -> None:
    async with client_for() as client:
        response = await client.get("/schema/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "Messenger API"
    assert document["openapi"].startswith("3.")
    assert "get" in document["paths"]["/health"]
    assert "get" in document["paths"]["/ready"]


@pytest.mark.parametrize("path", ["/no-such-page", "/api/widget/no-such-endpoint"])
async def test_unknown_path_is_a_json_404(client_for: ClientFactory, path: str) -> None:
    async with client_for() as client:
        response = await client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "not_found"
    assert isinstance(body["detail"], str)
    assert body["detail"]


async def test_wrong_method_is_a_json_405(client_for: ClientFactory) -> None:
    async with client_for() as client:
        response = await client.delete("/health")

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
