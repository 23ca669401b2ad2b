from sqlalchemy import select

from messenger.db.models import Branch
from tests.support.factories import make_branch


async def test_database_is_postgres_and_empty(db_session):
    assert db_session.bind.dialect.name == "postgresql"
    branch = await make_branch(db_session)
    rows = (await db_session.execute(select(Branch))).scalars().all()
    assert [b.id for b in rows] == [branch.id]


async def test_redis_answers(redis, redis_prefix):
    await redis.set(f"{redis_prefix}:k", "v")
    assert await redis.get(f"{redis_prefix}:k") == b"v"
