"""No 5xx and nothing off-schema from the integration API: schemathesis generates requests
for every ``/api/v1/`` operation from the live server's ``/schema``, with a valid API token."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from messenger.config import Settings
from messenger.db import alchemy_config
from tests.live.test_schema_fuzz import _fuzz
from tests.support.api import build_api_world
from tests.support.app import RELAXED_ENV
from tests.support.servers import LiveServer

pytestmark = pytest.mark.timeout(300)


async def _token(settings: Settings) -> str:
    config = alchemy_config(settings)
    try:
        async with config.get_session() as db:
            return (await build_api_world(db)).all
    finally:
        await config.get_engine().dispose()


def test_integration_api_never_answers_5xx_or_off_schema(
    live_server: Callable[..., LiveServer], settings: Settings
) -> None:
    server = live_server(**RELAXED_ENV)
    token = asyncio.run(_token(settings))
    _fuzz(server, "^/api/v1/", {"Authorization": f"Bearer {token}"})
