"""Erasure and export through the S3 storage (moto in server mode): the erased visitor's
objects leave the bucket, the other visitor's stay; the export reads the files back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.storage import storage_from_settings
from messenger.config import Settings
from messenger.privacy.erase import erase_visitor
from messenger.privacy.export import attachment_files
from tests.integration.test_privacy import seed_person
from tests.support.factories import make_branch, make_inbox, make_user
from tests.support.s3 import S3Server

pytestmark = [pytest.mark.usefixtures("clean_db"), pytest.mark.timeout(120)]


@pytest.fixture
def s3() -> Iterator[S3Server]:
    server = S3Server().start()
    try:
        yield server
    finally:
        server.stop()


async def test_erase_removes_the_visitors_objects_from_the_bucket(
    env: dict[str, str], db_session: AsyncSession, s3: S3Server
) -> None:
    storage = storage_from_settings(Settings.from_env({**env, **s3.env("files")}))
    branch = await make_branch(db_session, "Alpha")
    operator = await make_user(db_session, [branch])
    inbox = await make_inbox(db_session)
    one, one_keys = await seed_person(db_session, storage, inbox, operator, "one")
    _, two_keys = await seed_person(db_session, storage, inbox, operator, "two")
    visitor_id = one.visitor_id
    assert len(s3.objects("files/")) == 4

    exported = {
        path: b"".join([chunk async for chunk in chunks])
        async for path, chunks in attachment_files(db_session, storage, visitor_id)
    }
    assert sorted(exported.values()) == [b"passport scan one", b"unsent one"]

    await erase_visitor(db_session, storage, visitor_id)
    await db_session.commit()
    left = set(s3.objects("files/"))
    assert len(left) == 2
    assert not any(key in name for name in left for key in one_keys)
    assert all(any(key in name for name in left) for key in two_keys)
