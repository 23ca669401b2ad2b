"""The hot path's own asyncpg pool (messenger/db/direct.py): how its connections are set up,
and that the poll's one plan reads the conversation's own index, whatever the id asked."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.config import Settings
from messenger.db.direct import DirectDatabase
from messenger.widget.hotpath import POLL
from tests.support.factories import make_branch, make_inbox

pytestmark = pytest.mark.timeout(60)


async def test_hot_connections_keep_one_generic_plan_and_a_server_side_timeout(
    settings: Settings, clean_db: None
) -> None:
    direct = DirectDatabase(settings.effective_database_url, 1, timeout=7.0)
    try:
        rows = await direct.fetch(
            "SELECT current_setting('plan_cache_mode') AS plans, "
            "current_setting('statement_timeout') AS timeout, "
            "current_setting('application_name') AS name"
        )
    finally:
        await direct.close()
    assert dict(rows[0]) == {
        "plans": "force_generic_plan",
        "timeout": "7s",
        "name": "messenger-hot-path",
    }


async def test_behind_a_transaction_pooler_no_startup_setting_is_sent(
    settings: Settings, clean_db: None
) -> None:
    """A pooler (PgBouncer) refuses unknown startup parameters: only the name goes."""
    direct = DirectDatabase(settings.effective_database_url, 1, transaction_pooler=True)
    try:
        rows = await direct.fetch("SELECT current_setting('plan_cache_mode') AS plans")
    finally:
        await direct.close()
    assert rows[0]["plans"] == "auto"


SEED = """
WITH v AS (
    INSERT INTO visitors (id, inbox_id, created_at, updated_at)
    SELECT gen_random_uuid(), $1, now(), now() FROM generate_series(1, 50)
    RETURNING id
), c AS (
    INSERT INTO conversations (id, inbox_id, branch_id, visitor_id, channel, status, priority,
                               last_activity_at, created_at, updated_at)
    SELECT gen_random_uuid(), $1, $2, v.id, 'chat', 'open', 'normal', now(), now(), now()
    FROM v
    RETURNING id
)
INSERT INTO messages (conversation_id, sender, kind, body, created_at, updated_at)
SELECT c.id, 'visitor', 'message', 'message ' || n, now(), now()
FROM c, generate_series(1, 200) AS n
"""


async def test_the_polls_plan_reads_the_conversations_index(
    settings: Settings, db_session: AsyncSession
) -> None:
    """The plan the pool's connections keep (generic: made without the values) walks the
    conversation's messages by ``(conversation_id, id)``. Planned for the values (the
    default), the poll for "after the newest id" walked every newer message of every
    conversation through the primary key, and was planned again at every call."""
    inbox = await make_inbox(db_session, branch=await make_branch(db_session))
    direct = DirectDatabase(settings.effective_database_url, 1)
    try:
        pool = await direct._open()
        async with pool.acquire() as connection:
            await connection.execute(SEED, inbox.id, inbox.branch_id)
            await connection.execute("ANALYZE")
            newest = await connection.fetchval("SELECT max(id) FROM messages")
            visitor = await connection.fetchval("SELECT visitor_id FROM conversations LIMIT 1")
            await connection.execute(f"PREPARE poll_plan(bigint, uuid, bigint) AS {POLL}")
            plans = []
            for _ in range(7):  # past the five custom plans PostgreSQL tries first
                rows = await connection.fetch(
                    f"EXPLAIN EXECUTE poll_plan({inbox.id}, '{visitor}', {newest})"
                )
                plans.append("\n".join(row["QUERY PLAN"] for row in rows))
            await connection.execute("DEALLOCATE poll_plan")
    finally:
        await direct.close()
    for plan in plans:
        assert "ix_messages_conversation_id_id" in plan, plan
        assert "pk_messages" not in plan, plan
