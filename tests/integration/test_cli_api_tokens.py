"""``messenger api-token create|list|revoke`` as a real subprocess: the token is printed once,
works against the API, never shows again, and stops working when revoked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.api import Api
from tests.support.app import app_client
from tests.support.env import cli_env, run_cli
from tests.support.factories import make_branch

pytestmark = [pytest.mark.usefixtures("clean_db"), pytest.mark.timeout(120)]


def ok_json(*args: str, env: dict[str, str]) -> Any:
    result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_create_prints_the_token_once_and_it_works_until_revoked(
    env: dict[str, str], db_session: AsyncSession, tmp_path: Any
) -> None:
    cli = cli_env(**env)
    branch = await make_branch(db_session, "Alpha")
    created = ok_json(
        "api-token", "create", "--name", "CRM", "--branch", str(branch.id), "--json", env=cli
    )
    assert set(created) >= {"id", "token"}
    assert created["branch_ids"] == [branch.id]
    token = created["token"]

    listed = run_cli("api-token", "list", "--json", env=cli)
    assert listed.returncode == 0, listed.stderr
    assert token not in listed.stdout
    assert token[12:] not in listed.stdout
    rows = json.loads(listed.stdout)["api_tokens"]
    assert [(r["id"], r["name"], r["branch_ids"]) for r in rows] == [
        (created["id"], "CRM", [branch.id])
    ]
    human = run_cli("api-token", "list", env=cli)
    assert "CRM" in human.stdout
    assert token not in human.stdout
    stored = await db_session.execute(text("SELECT token_hash, prefix, name FROM api_tokens"))
    assert token not in repr(stored.all())

    app_env = {**env, "MESSENGER_DATA_DIR": str(tmp_path)}
    async with app_client(app_env, relaxed=True) as client:
        assert (await Api(client, token).get("/conversations")).status_code == 200
        revoked = ok_json("api-token", "revoke", str(created["id"]), "--json", env=cli)
        assert revoked["revoked_at"] is not None
        assert (await Api(client, token).get("/conversations")).status_code == 401

    refused = run_cli("api-token", "create", "--name", "X", "--branch", "999999", env=cli)
    assert refused.returncode == 1
    assert "999999" in refused.stderr
    assert "Traceback" not in refused.stderr
    blank = run_cli("api-token", "create", "--name", "  ", env=cli)
    assert blank.returncode == 1
    missing = run_cli("api-token", "revoke", "424242", env=cli)
    assert missing.returncode == 1
