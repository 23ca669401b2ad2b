"""``messenger visitor erase|export`` and ``messenger retention run`` as real subprocesses:
names, JSON output, progress as JSON lines on stderr, batches, audit as "cli"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.storage import LocalStorage
from messenger.db.models import AuditEntry, Conversation, Message, MessageSender
from tests.integration.test_privacy import dump, seed_person, stored_keys
from tests.support.env import cli_env, run_cli
from tests.support.factories import make_branch, make_inbox, make_user

pytestmark = [pytest.mark.usefixtures("clean_db"), pytest.mark.timeout(180)]


def lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


async def test_export_erase_and_retention_from_the_command_line(
    env: dict[str, str], db_session: AsyncSession, tmp_path: Path
) -> None:
    branch = await make_branch(db_session, "Alpha")
    operator = await make_user(db_session, [branch])
    inbox = await make_inbox(db_session)
    root = tmp_path / "attachments"
    storage = LocalStorage(root)
    one, one_keys = await seed_person(db_session, storage, inbox, operator, "one")
    two, two_keys = await seed_person(db_session, storage, inbox, operator, "two")
    three, _ = await seed_person(db_session, storage, inbox, operator, "three")
    one_visitor, two_visitor, three_id = str(one.visitor_id), str(two.visitor_id), three.id
    cli = cli_env(**env, MESSENGER_DATA_DIR=str(tmp_path))

    # export: the JSON on stdout; with --out, visitor.json and the files.
    out = tmp_path / "export"
    exported = run_cli("visitor", "export", one_visitor, "--json", "--out", str(out), env=cli)
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert document["visitor"]["name"] == "Ivan Secretov-one"
    assert json.loads((out / "visitor.json").read_text()) == document
    files = sorted(p.relative_to(out).as_posix() for p in (out / "attachments").iterdir())
    assert len(files) == 2
    assert any(f.endswith("passport-one.pdf") for f in files)
    assert (out / next(f for f in files if f.endswith(".pdf"))).read_bytes() == b"passport scan one"
    progress = lines(exported.stderr)
    assert progress[-1]["progress"] == "export"
    assert progress[-1]["done"] == progress[-1]["total"] == 2

    refused = run_cli("visitor", "export", "not-a-uuid", "--json", env=cli)
    assert refused.returncode == 1
    assert "not a visitor id" in refused.stderr

    # erase two visitors at once: progress per visitor, totals, audited as cli.
    erased = run_cli("visitor", "erase", one_visitor, two_visitor, "--json", env=cli)
    assert erased.returncode == 0, erased.stderr
    result = json.loads(erased.stdout)
    assert result["totals"]["messages"] == 4
    assert result["totals"]["attachments"] == 4
    assert [p["done"] for p in lines(erased.stderr)] == [1, 2]
    everything = await dump(db_session)
    assert "-one" not in everything
    assert "-two" not in everything
    assert "Ivan Secretov-three" in everything
    assert not stored_keys(root) & {*one_keys, *two_keys}
    actors = set(
        await db_session.scalars(
            select(AuditEntry.actor_email).where(AuditEntry.action == "visitor.erase")
        )
    )
    assert actors == {"cli"}
    unknown = run_cli("visitor", "erase", "00000000-0000-0000-0000-000000000001", "--yes", env=cli)
    assert unknown.returncode == 1
    assert "no visitor" in unknown.stderr

    # retention: without a setting it refuses; dry run counts; the real run acts in batches.
    assert run_cli("retention", "run", "--dry-run", "--json", env=cli).returncode == 1
    long_ago = datetime.now(UTC) - timedelta(days=100)
    await db_session.execute(update(Conversation).values(last_activity_at=long_ago))
    await db_session.commit()
    aged = {**cli, "MESSENGER_RETENTION_DAYS": "30", "MESSENGER_RETENTION_BATCH_SIZE": "1"}
    dry = run_cli("retention", "run", "--dry-run", "--json", env=aged)
    assert dry.returncode == 0, dry.stderr
    counted = json.loads(dry.stdout)
    assert counted["dry_run"] is True
    assert counted["due_conversations"] == 1  # the two erased ones are done already
    assert "Ivan Secretov-three" in await dump(db_session)
    real = run_cli("retention", "run", "--json", env=aged)
    assert real.returncode == 0, real.stderr
    report = json.loads(real.stdout)
    assert (report["conversations"], report["batches"], report["messages"]) == (1, 1, 2)
    assert lines(real.stderr)[-1]["done"] == 1
    assert "Ivan Secretov-three" not in await dump(db_session)
    bodies = set(
        await db_session.scalars(
            select(Message.body).where(
                Message.conversation_id == three_id, Message.sender == MessageSender.VISITOR
            )
        )
    )
    assert bodies == {"[erased]"}
    human = run_cli("retention", "run", "--dry-run", env=aged)
    assert "Would anonymise 0 conversation(s)" in human.stdout
