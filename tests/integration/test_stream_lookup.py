"""The open streams' shared catch-up lookup (``messenger.widget.stream.newest_ids``): the
newest id each visitor may see, for many visitors in one statement, on PostgreSQL (one
array parameter) and on the embedded SQLite (``IN``); notes are not counted, unknown
visitors are absent."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.conversations.service import ConversationService
from messenger.db import alchemy_config
from messenger.db.models import MessageKind, MessageSender
from messenger.widget.stream import newest_ids
from tests.support.env import cli_env, run_cli
from tests.support.factories import make_branch, make_conversation, make_inbox

pytestmark = pytest.mark.timeout(120)

Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


async def _check(sessions: Sessions) -> None:
    async with sessions() as db:
        branch = await make_branch(db)
        inbox = await make_inbox(db, branch=branch)
        service = ConversationService(session=db)
        expected: dict[tuple[int, str], int] = {}
        for n in range(60):
            row = await make_conversation(db, inbox, branch.id)
            last = None
            for body in range(n % 3 + 1):
                last, _ = await service.append(row, sender=MessageSender.VISITOR, body=f"{body}")
            # A note after them: the visitor never sees it, so it is not their newest.
            await service.append(
                row, sender=MessageSender.OPERATOR, body="internal", kind=MessageKind.NOTE
            )
            assert last is not None
            expected[(inbox.id, str(row.visitor_id))] = last.id
        await db.commit()
    keys = [*expected, (inbox.id, str(uuid.uuid4()))]
    lookup = newest_ids(sessions)
    assert newest_ids(sessions) is lookup  # one per database: the clock groups by it
    assert await lookup(keys) == expected
    # Another count of visitors, the same statement (and the same answer for them).
    some = keys[:7]
    assert await lookup(some) == {key: expected[key] for key in some}
    assert await lookup([]) == {}


async def test_on_postgresql(settings: Settings, clean_db: None) -> None:
    config = alchemy_config(settings)
    try:
        await _check(config.get_session)
    finally:
        await config.get_engine().dispose()


async def test_on_the_embedded_sqlite(tmp_path: Path) -> None:
    env = cli_env(MESSENGER_DATA_DIR=str(tmp_path))
    run_cli("db", "upgrade", "--no-prompt", env=env, check=True)
    config = alchemy_config(Settings.from_env(env))
    try:
        await _check(config.get_session)
    finally:
        await config.get_engine().dispose()
