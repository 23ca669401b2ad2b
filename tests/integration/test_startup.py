"""Settings: defaults, every variable read, one clear error per bad value, start-up checks."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import (
    Settings,
    SettingsError,
)
from tests.support.app import app_client
from tests.support.env import ROOT, cli_env
from tests.support.factories import make_branch


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- MESSENGER_DEFAULT_BRANCH_ID must name a branch -------------------------------------------


def run_serve(env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    """``messenger serve`` that is expected to stop on its own (a timeout means it started)."""
    return subprocess.run(
        [sys.executable, "-m", "messenger", "serve", "--port", str(port)],
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        check=False,
    )


def test_serve_refuses_to_start_when_the_default_branch_does_not_exist(
    env: dict[str, str],
) -> None:
    port = free_port()
    result = run_serve({**env, "MESSENGER_DEFAULT_BRANCH_ID": "987654"}, port)

    assert result.returncode == 2
    assert "MESSENGER_DEFAULT_BRANCH_ID" in result.stderr
    assert "987654" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Uvicorn running" not in result.stderr


async def test_app_start_up_fails_when_the_default_branch_does_not_exist(
    env: dict[str, str],
) -> None:
    settings = Settings.from_env({**env, "MESSENGER_DEFAULT_BRANCH_ID": "987654"})
    with pytest.raises(ExceptionGroup) as excinfo:
        async with app_client(settings) as client:
            await client.get("/health")
    assert excinfo.group_contains(SettingsError, match="MESSENGER_DEFAULT_BRANCH_ID")


async def test_app_starts_when_the_default_branch_exists(
    env: dict[str, str], db_session: AsyncSession
) -> None:
    branch = await make_branch(db_session, "Fallback")
    settings = Settings.from_env({**env, "MESSENGER_DEFAULT_BRANCH_ID": str(branch.id)})

    async with app_client(settings) as client:
        response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
