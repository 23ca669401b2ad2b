"""The ``messenger`` command line, run as a real subprocess against the test PostgreSQL."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from messenger.accounts.passwords import verify_password
from messenger.config import VARIABLES, markdown_table
from messenger.demo.seed import DEMO_ADMIN_EMAIL, DEMO_BRANCH, DEMO_INBOX, DEMO_OPERATOR_EMAIL
from tests.support.env import ROOT, TABLES, cli_env, run_cli

PASSWORD = "correct horse battery"

pytestmark = pytest.mark.usefixtures("clean_db")


@pytest.fixture
def cli(env: dict[str, str]) -> dict[str, str]:
    return cli_env(**env)


@pytest.fixture
async def pg(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        yield conn
    finally:
        await conn.close()


async def counts(pg: asyncpg.Connection) -> dict[str, int]:
    """Rows per table; the audit log is left out: it records every run, by design."""
    return {
        table: await pg.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608
        for table in TABLES
        if table != "audit_entries"
    }


async def add_branch(pg: asyncpg.Connection, name: str = "Moscow") -> int:
    return await pg.fetchval(
        "INSERT INTO branches (name, is_active, created_at, updated_at) "
        "VALUES ($1, true, now(), now()) RETURNING id",
        name,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result).stdout)


def assert_refused(result: subprocess.CompletedProcess[str], message: str, status: int = 1) -> None:
    assert result.returncode == status, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


# --- happy paths ----------------------------------------------------------------------------


async def test_branch_create_and_list(cli: dict[str, str], pg: asyncpg.Connection) -> None:
    created = ok_json(run_cli("branch", "create", "--name", " Moscow ", "--json", env=cli))
    text = ok(run_cli("branch", "create", "--name", "Kazan", env=cli)).stdout

    assert created["name"] == "Moscow"
    assert created["is_active"] is True
    assert re.fullmatch(r"Created branch \d+: Kazan\n", text)
    rows = await pg.fetch("SELECT id, name FROM branches ORDER BY id")
    assert (rows[0]["id"], rows[0]["name"]) == (created["id"], "Moscow")
    assert [r["name"] for r in rows] == ["Moscow", "Kazan"]

    listed = ok_json(run_cli("branch", "list", "--json", env=cli))
    assert [b["name"] for b in listed["branches"]] == ["Moscow", "Kazan"]


async def test_inbox_create_prints_the_widget_token_as_json(
    cli: dict[str, str], pg: asyncpg.Connection
) -> None:
    data = ok_json(
        run_cli("inbox", "create", "--name", "Shop", "--domain", "shop.example", "--json", env=cli)
    )

    assert data["widget_token"].startswith("wt_")
    assert len(data["widget_token"]) >= 30
    assert data["name"] == "Shop"
    assert data["global"] is True
    assert data["branch_id"] is None
    assert data["allowed_domains"] == ["shop.example"]
    assert f'data-widget-token="{data["widget_token"]}"' in data["embed_snippet"]
    row = await pg.fetchrow("SELECT id, widget_token, branch_id FROM inboxes")
    assert dict(row) == {"id": data["id"], "widget_token": data["widget_token"], "branch_id": None}


async def test_inbox_create_for_a_branch_and_a_global_one_with_fallback(
    cli: dict[str, str], pg: asyncpg.Connection
) -> None:
    moscow = await add_branch(pg, "Moscow")
    kazan = await add_branch(pg, "Kazan")

    own = ok_json(
        run_cli(
            "inbox",
            "create",
            "--name",
            "Moscow site",
            "--domain",
            "msk.example",
            "--domain",
            "*.msk.example",
            "--branch",
            str(moscow),
            "--json",
            env=cli,
        )
    )
    routed = ok_json(
        run_cli(
            "inbox",
            "create",
            "--name",
            "Federal",
            "--domain",
            "shop.example",
            "--global",
            "--fallback-branch",
            str(kazan),
            "--json",
            env=cli,
        )
    )

    assert (own["branch_id"], own["global"]) == (moscow, False)
    assert own["allowed_domains"] == ["msk.example", "*.msk.example"]
    assert (routed["branch_id"], routed["fallback_branch_id"], routed["global"]) == (
        None,
        kazan,
        True,
    )
    assert own["widget_token"] != routed["widget_token"]
    rows = await pg.fetch("SELECT branch_id, fallback_branch_id FROM inboxes ORDER BY id")
    assert [tuple(r) for r in rows] == [(moscow, None), (None, kazan)]


async def test_user_create_reads_the_password_from_stdin(
    cli: dict[str, str], pg: asyncpg.Connection
) -> None:
    branch = await add_branch(pg)

    data = ok_json(
        run_cli(
            "user",
            "create",
            "--email",
            "Olga@Example.com",
            "--name",
            "Olga",
            "--branch",
            str(branch),
            "--password-stdin",
            "--json",
            env=cli,
            stdin=PASSWORD + "\n",
        )
    )

    assert data["email"] == "olga@example.com"
    assert data["role"] == "operator"
    assert data["branch_ids"] == [branch]
    row = await pg.fetchrow("SELECT id, password_hash FROM users WHERE email = $1", data["email"])
    assert row["id"] == data["id"]
    assert PASSWORD not in row["password_hash"]
    assert verify_password(row["password_hash"], PASSWORD)
    assert not verify_password(row["password_hash"], PASSWORD + "!")
    links = await pg.fetch("SELECT branch_id FROM user_branches WHERE user_id = $1", data["id"])
    assert [r["branch_id"] for r in links] == [branch]


async def test_admin_needs_no_branch(cli: dict[str, str], pg: asyncpg.Connection) -> None:
    result = ok(
        run_cli(
            "user",
            "create",
            "--email",
            "boss@example.com",
            "--name",
            "Boss",
            "--role",
            "admin",
            "--password-stdin",
            env=cli,
            stdin=PASSWORD,
        )
    )

    assert re.fullmatch(r"Created admin \d+: boss@example.com\n", result.stdout)
    assert await pg.fetchval("SELECT role FROM users") == "admin"


async def test_inbox_identity_secret_is_printed_and_rotated(
    cli: dict[str, str], pg: asyncpg.Connection
) -> None:
    inbox = ok_json(
        run_cli("inbox", "create", "--name", "Shop", "--domain", "a.example", "--json", env=cli)
    )
    assert re.fullmatch(r"[0-9a-f]{64}", inbox["identity_secret"])
    assert await pg.fetchval("SELECT identity_secret FROM inboxes") == inbox["identity_secret"]

    rotated = ok_json(
        run_cli("inbox", "rotate-identity-secret", str(inbox["id"]), "--json", env=cli)
    )

    assert rotated["id"] == inbox["id"]
    assert re.fullmatch(r"[0-9a-f]{64}", rotated["identity_secret"])
    assert rotated["identity_secret"] != inbox["identity_secret"]
    assert rotated["widget_token"] == inbox["widget_token"]  # the snippet stays as it is
    assert await pg.fetchval("SELECT identity_secret FROM inboxes") == rotated["identity_secret"]
    missing = run_cli("inbox", "rotate-identity-secret", "999", "--json", env=cli)
    assert missing.returncode != 0
    assert "no inbox with id 999" in missing.stderr.lower()


async def test_rotate_token_changes_the_token(cli: dict[str, str], pg: asyncpg.Connection) -> None:
    inbox = ok_json(
        run_cli("inbox", "create", "--name", "Shop", "--domain", "a.example", "--json", env=cli)
    )

    rotated = ok_json(run_cli("inbox", "rotate-token", str(inbox["id"]), "--json", env=cli))

    assert rotated["id"] == inbox["id"]
    assert rotated["widget_token"].startswith("wt_")
    assert rotated["widget_token"] != inbox["widget_token"]
    row = await pg.fetchrow("SELECT widget_token, token_rotated_at FROM inboxes")
    assert row["widget_token"] == rotated["widget_token"]
    assert row["token_rotated_at"] is not None
    old = await pg.fetchval(
        "SELECT count(*) FROM inboxes WHERE widget_token = $1", inbox["widget_token"]
    )
    assert old == 0


async def test_set_domains_replaces_the_allowlist(
    cli: dict[str, str], pg: asyncpg.Connection
) -> None:
    inbox = ok_json(
        run_cli("inbox", "create", "--name", "Shop", "--domain", "old.example", "--json", env=cli)
    )

    updated = ok_json(
        run_cli(
            "inbox",
            "set-domains",
            str(inbox["id"]),
            "--domain",
            "new.example",
            "--domain",
            "*.new.example",
            "--json",
            env=cli,
        )
    )

    assert updated["allowed_domains"] == ["new.example", "*.new.example"]
    assert updated["widget_token"] == inbox["widget_token"]
    stored = json.loads(await pg.fetchval("SELECT settings::text FROM inboxes"))
    assert stored["security"]["allowed_domains"] == ["new.example", "*.new.example"]


async def test_inbox_list(cli: dict[str, str], pg: asyncpg.Connection) -> None:
    assert ok(run_cli("inbox", "list", env=cli)).stdout == "No inboxes yet.\n"
    first = ok_json(
        run_cli("inbox", "create", "--name", "One", "--domain", "one.example", "--json", env=cli)
    )
    second = ok_json(
        run_cli("inbox", "create", "--name", "Two", "--domain", "two.example", "--json", env=cli)
    )

    listed = ok_json(run_cli("inbox", "list", "--json", env=cli))
    text = ok(run_cli("inbox", "list", env=cli)).stdout

    assert [(i["id"], i["widget_token"]) for i in listed["inboxes"]] == [
        (first["id"], first["widget_token"]),
        (second["id"], second["widget_token"]),
    ]
    assert text.splitlines() == [
        f"{first['id']}\tOne\t{first['widget_token']}\tone.example",
        f"{second['id']}\tTwo\t{second['widget_token']}\ttwo.example",
    ]


async def test_demo_is_idempotent_and_prints_working_logins(
    cli: dict[str, str], pg: asyncpg.Connection
) -> None:
    text = ok(run_cli("demo", env=cli)).stdout
    match = re.search(rf"operator: {re.escape(DEMO_OPERATOR_EMAIL)}\s+password: (\S+)", text)
    assert match is not None, text
    first_password = match.group(1)
    assert DEMO_ADMIN_EMAIL in text
    after_first = await counts(pg)

    data = ok_json(run_cli("demo", "--json", env=cli))

    assert await counts(pg) == after_first
    assert after_first["branches"] == 1
    assert after_first["users"] == 2
    assert after_first["inboxes"] == 1
    assert data["branch"]["name"] == DEMO_BRANCH
    assert data["inbox"]["name"] == DEMO_INBOX
    assert data["inbox"]["widget_token"] in text  # the same inbox, not a new one
    assert "localhost" in data["inbox"]["allowed_domains"]
    assert data["operator"]["email"] == DEMO_OPERATOR_EMAIL
    assert data["admin"]["email"] == DEMO_ADMIN_EMAIL
    hashes = dict(await pg.fetch("SELECT email, password_hash FROM users"))
    # Each run prints new passwords; the latest ones are the ones that work.
    assert data["operator"]["password"] != first_password
    assert verify_password(hashes[DEMO_OPERATOR_EMAIL], data["operator"]["password"])
    assert not verify_password(hashes[DEMO_OPERATOR_EMAIL], first_password)
    assert verify_password(hashes[DEMO_ADMIN_EMAIL], data["admin"]["password"])
    roles = dict(await pg.fetch("SELECT email, role FROM users"))
    assert roles == {DEMO_OPERATOR_EMAIL: "operator", DEMO_ADMIN_EMAIL: "admin"}


def test_settings_prints_the_declared_table_whatever_the_environment(cli: dict[str, str]) -> None:
    # Documentation, not configuration: a bad value does not stop it.
    broken = {**cli, "MESSENGER_DEFAULT_LOCALE": "de"}

    text = ok(run_cli("settings", env=broken)).stdout
    data = ok_json(run_cli("settings", "--json", env=broken))

    assert text == markdown_table()
    assert [v["name"] for v in data["variables"]] == [v.name for v in VARIABLES]
    rate = next(v for v in data["variables"] if v["name"] == "MESSENGER_WIDGET_SEND_RATE_PER_IP")
    assert rate["default"] == "60/minute"
    assert rate["type"] == "Rate"
    assert rate["checked_by_messenger_check"] is True


def test_the_cli_does_not_import_the_app_to_start() -> None:
    """Start-up checks live in messenger.startup; the app is loaded by uvicorn only."""
    code = "import sys, messenger.cli; print('messenger.app' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "False"


# --- bad input: a clear message, non-zero exit, nothing written -------------------------------

USER = "user create --email op@example.com --name Olga --password-stdin"
INBOX = "inbox create --name Shop --domain shop.example"
BAD_INPUT = {
    "duplicate branch": ("branch create --name MOSCOW", None, "already exists"),
    "empty branch name": ("branch create --name ' '", None, "name of 1 to 200"),
    "inbox on unknown branch": (f"{INBOX} --branch 999", None, "no branch with id 999"),
    "inbox with unknown fallback": (
        f"{INBOX} --global --fallback-branch 999",
        None,
        "no branch with id 999",
    ),
    "--branch with --global": (
        f"{INBOX} --branch {{branch}} --global",
        None,
        "--branch or --global",
    ),
    "--branch with --fallback-branch": (
        f"{INBOX} --branch {{branch}} --fallback-branch {{branch}}",
        None,
        "only for a global inbox",
    ),
    "domain given as a URL": (
        "inbox create --name Shop --domain https://shop.example/",
        None,
        "not a URL",
    ),
    "domain with a space": (
        "inbox create --name Shop --domain 'shop example' --branch {branch}",
        None,
        "not a valid host name",
    ),
    "operator without --branch": (USER, PASSWORD, "needs at least one --branch"),
    "user on unknown branch": (
        f"{USER} --branch {{branch}} --branch 999",
        PASSWORD,
        "no branch with id 999",
    ),
    "empty stdin password": (f"{USER} --branch {{branch}}", "\n", "empty line"),
    "short password": (f"{USER} --branch {{branch}}", "short\n", "at least 8 characters"),
    "bad e-mail": (
        "user create --email not-an-email --name Olga --password-stdin --branch {branch}",
        PASSWORD,
        "not an e-mail address",
    ),
    "rotate unknown inbox": ("inbox rotate-token 999", None, "no inbox with id 999"),
}


@pytest.mark.parametrize(("args", "stdin", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
async def test_bad_input_is_refused_and_writes_nothing(
    cli: dict[str, str],
    pg: asyncpg.Connection,
    args: str,
    stdin: str | None,
    message: str,
) -> None:
    branch = await add_branch(pg, "Moscow")
    before = await counts(pg)

    result = run_cli(*shlex.split(args.format(branch=branch)), env=cli, stdin=stdin)

    assert_refused(result, message)
    assert await counts(pg) == before


async def test_duplicate_user_is_refused(cli: dict[str, str], pg: asyncpg.Connection) -> None:
    branch = await add_branch(pg)
    args = (
        "user",
        "create",
        "--email",
        "op@example.com",
        "--name",
        "Olga",
        "--branch",
        str(branch),
        "--password-stdin",
    )
    ok(run_cli(*args, env=cli, stdin=PASSWORD))
    before = await counts(pg)

    result = run_cli(*args[:3], "OP@example.com", *args[4:], env=cli, stdin=PASSWORD)

    assert_refused(result, "already exists")
    assert await counts(pg) == before


async def test_bad_domain_on_set_domains_keeps_the_old_allowlist(
    cli: dict[str, str], pg: asyncpg.Connection
) -> None:
    inbox = ok_json(
        run_cli("inbox", "create", "--name", "Shop", "--domain", "shop.example", "--json", env=cli)
    )

    result = run_cli(
        "inbox",
        "set-domains",
        str(inbox["id"]),
        "--domain",
        "ok.example",
        "--domain",
        "evil.example/path",
        env=cli,
    )

    assert_refused(result, "evil.example/path")
    stored = json.loads(await pg.fetchval("SELECT settings::text FROM inboxes"))
    assert stored["security"]["allowed_domains"] == ["shop.example"]


async def test_bad_database_url_exits_2_naming_the_variable(
    env: dict[str, str], pg: asyncpg.Connection
) -> None:
    before = await counts(pg)
    bad = cli_env(**{**env, "DATABASE_URL": "mysql://root@127.0.0.1/messenger"})

    result = run_cli("branch", "create", "--name", "Moscow", env=bad)

    assert_refused(result, "DATABASE_URL", status=2)
    assert await counts(pg) == before


async def test_bad_setting_exits_2_naming_the_variable(cli: dict[str, str]) -> None:
    result = run_cli("branch", "list", env={**cli, "MESSENGER_DEFAULT_LOCALE": "de"})

    assert_refused(result, "MESSENGER_DEFAULT_LOCALE", status=2)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres@127.0.0.1:1/messenger",  # nothing listens
        "postgresql+asyncpg://postgres@127.0.0.1:5432/messenger_no_such_database",
    ],
    ids=["closed port", "missing database"],
)
async def test_unreachable_database_is_a_clean_error(env: dict[str, str], url: str) -> None:
    result = run_cli("branch", "list", env=cli_env(**{**env, "DATABASE_URL": url}))

    assert_refused(result, "database")
