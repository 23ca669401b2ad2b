"""No 5xx from client input: schemathesis generates requests for every Widget API operation
from the live server's own ``/schema`` and checks each answer against it.

A live ``messenger serve`` process with a valid widget session: every call carries
``Authorization: Bearer <session>`` and an allowed ``Origin``. Checks: no server error, and
no answer the schema does not describe (status code, content type, body, headers).

The stream is fuzzed without a session (its parameters and tickets: a valid session would
open an endless stream); everything else with one. Bounded: a few dozen examples per
operation, no deadline, so the run takes well under a minute.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from messenger.config import Settings
from messenger.db import alchemy_config
from tests.support.app import RELAXED_ENV
from tests.support.factories import make_branch, make_inbox
from tests.support.servers import LiveServer
from tests.support.widget import ORIGIN

pytestmark = pytest.mark.timeout(300)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
WIDGET = "^/api/widget/"
STREAM = "^/api/widget/stream$"


async def _shop(settings: Settings) -> str:
    config = alchemy_config(settings)
    try:
        async with config.get_session() as db:
            branch = await make_branch(db)
            inbox = await make_inbox(
                db,
                branch=branch,
                settings={"attachments": {"enabled": True, "content_types": ["text/plain"]}},
            )
            return inbox.widget_token
    finally:
        await config.get_engine().dispose()


@pytest.fixture
def widget_server(
    live_server: Callable[..., LiveServer], settings: Settings
) -> tuple[LiveServer, dict[str, str]]:
    """A live server and the headers of a valid widget session on it."""
    server = live_server(**{**RELAXED_ENV, "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS": "0.001"})
    token = asyncio.run(_shop(settings))
    boot = httpx.post(
        f"{server.url}/api/widget/bootstrap",
        json={"widget_token": token},
        headers={"Origin": ORIGIN},
        timeout=10,
    )
    assert boot.status_code == 200, boot.text
    return server, {"Authorization": f"Bearer {boot.json()['session_token']}", "Origin": ORIGIN}


def _fuzz(
    server: LiveServer, path_regex: str, headers: dict[str, str], *, exclude: str = ""
) -> None:
    """Every matching operation of the live schema, each with its own bounded Hypothesis
    run (schemathesis' Python API: its pytest plugin does not run under pytest 9); the
    failures of all operations are reported together."""
    api = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
    api = api.include(path_regex=path_regex)
    if exclude:
        api = api.exclude(path_regex=exclude)
    failures: list[str] = []
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS, timeout=10)

        try:
            run()
        except Exception as exc:  # every operation is tried; all failures are shown
            failures.append(f"{operation.label}: {exc}")
    assert operations, f"no operation matches {path_regex}"
    assert not failures, "\n\n".join(failures)


def test_widget_operations_with_a_session_never_answer_5xx_or_off_schema(
    widget_server: tuple[LiveServer, dict[str, str]],
) -> None:
    server, headers = widget_server
    _fuzz(server, WIDGET, headers, exclude=STREAM)


def test_the_stream_without_a_session_never_answers_5xx_or_off_schema(
    widget_server: tuple[LiveServer, dict[str, str]],
) -> None:
    server, headers = widget_server
    _fuzz(server, STREAM, {"Origin": headers["Origin"]})
