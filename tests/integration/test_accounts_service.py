"""Staff accounts (and branches) against real PostgreSQL, with real Argon2id hashing."""

from __future__ import annotations

import asyncpg
import pytest
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    needs_rehash,
    verify_password,
)
from messenger.accounts.service import UserService
from messenger.branches.service import BranchService
from messenger.config import Settings
from messenger.db.models import UserRole
from messenger.errors import ConflictError, InvalidInputError, NotFoundError
from tests.support.factories import PASSWORD, make_branch, make_user


async def committed_users(settings: Settings) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.effective_database_url.replace("+asyncpg", ""))
    try:
        return await conn.fetch("SELECT * FROM users ORDER BY id")
    finally:
        await conn.close()


async def test_create_user(db_session: AsyncSession, settings: Settings):
    moscow = await make_branch(db_session, "Moscow")
    kazan = await make_branch(db_session, "Kazan")
    user = await UserService(session=db_session).create_user(
        email="  Olga.Petrova@Example.COM ",
        name="  Olga  ",
        password=PASSWORD,
        branches=[kazan, moscow],
    )
    assert user.email == "olga.petrova@example.com"
    assert user.name == "Olga"
    assert user.role == UserRole.OPERATOR
    assert not user.is_admin
    assert user.is_active
    assert user.branch_ids == {moscow.id, kazan.id}

    await db_session.commit()  # the caller's unit of work commits, never the service
    [row] = await committed_users(settings)
    assert row["email"] == "olga.petrova@example.com"
    assert row["password_hash"] != PASSWORD
    assert PASSWORD not in row["password_hash"]
    assert row["password_hash"].startswith("$argon2id$")
    assert verify_password(row["password_hash"], PASSWORD)


async def test_create_admin(db_session: AsyncSession):
    admin = await make_user(db_session, [], email="root@example.com", role=UserRole.ADMIN)
    assert admin.is_admin
    assert admin.branch_ids == set()


@pytest.mark.parametrize("again", ["op@example.com", "OP@Example.com", "  op@EXAMPLE.COM  "])
async def test_duplicate_email_is_a_conflict_whatever_the_case(
    db_session: AsyncSession, settings: Settings, again: str
):
    await make_user(db_session, [], email="Op@Example.com")
    with pytest.raises(ConflictError):
        await UserService(session=db_session).create_user(
            email=again, name="Someone else", password=PASSWORD
        )
    assert [r["email"] for r in await committed_users(settings)] == ["op@example.com"]


@pytest.mark.parametrize(
    "email",
    ["", "   ", "olga", "olga@", "@example.com", "olga@example", "ol ga@example.com",
     "olga@@example.com", "a@b@example.com", "x" * 65 + "@example.com",
     "olga@" + "e" * 320 + ".com"],
)  # fmt: skip
async def test_bad_email_is_refused(db_session: AsyncSession, settings: Settings, email: str):
    with pytest.raises(InvalidInputError):
        await UserService(session=db_session).create_user(
            email=email, name="Olga", password=PASSWORD
        )
    assert await committed_users(settings) == []


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
async def test_bad_name_is_refused(db_session: AsyncSession, name: str):
    with pytest.raises(InvalidInputError):
        await UserService(session=db_session).create_user(
            email="olga@example.com", name=name, password=PASSWORD
        )


@pytest.mark.parametrize(
    "password", ["", "short", "x" * (MIN_PASSWORD_LENGTH - 1), "x" * (MAX_PASSWORD_LENGTH + 1)]
)
async def test_weak_or_absurd_password_is_refused(
    db_session: AsyncSession, settings: Settings, password: str
):
    with pytest.raises(InvalidInputError):
        await UserService(session=db_session).create_user(
            email="olga@example.com", name="Olga", password=password
        )
    assert await committed_users(settings) == []


@pytest.mark.parametrize("length", [MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH])
async def test_password_lengths_at_the_limits_are_accepted(db_session: AsyncSession, length: int):
    password = "p" * length
    service = UserService(session=db_session)
    await service.create_user(email="olga@example.com", name="Olga", password=password)
    assert await service.authenticate("olga@example.com", password) is not None


async def test_authenticate(db_session: AsyncSession):
    user = await make_user(db_session, [], email="olga@example.com")
    service = UserService(session=db_session)

    found = await service.authenticate("olga@example.com", PASSWORD)
    assert found is not None
    assert found.id == user.id
    assert (await service.authenticate("  OLGA@Example.com ", PASSWORD)).id == user.id

    for wrong in ("", PASSWORD.upper(), PASSWORD + " ", PASSWORD[:-1], "correct horse"):
        assert await service.authenticate("olga@example.com", wrong) is None, wrong
    assert await service.authenticate("nobody@example.com", PASSWORD) is None
    assert await service.authenticate("", PASSWORD) is None


async def test_an_inactive_user_cannot_log_in(db_session: AsyncSession):
    user = await make_user(db_session, [], email="olga@example.com", active=False)
    service = UserService(session=db_session)
    assert not user.is_active
    assert await service.authenticate("olga@example.com", PASSWORD) is None

    await service.set_active(user.id, active=True)
    assert (await service.authenticate("olga@example.com", PASSWORD)).id == user.id


async def test_set_password(db_session: AsyncSession):
    user = await make_user(db_session, [], email="olga@example.com")
    service = UserService(session=db_session)
    with pytest.raises(InvalidInputError):
        await service.set_password(user.id, "short")
    assert await service.authenticate("olga@example.com", PASSWORD) is not None

    await service.set_password(user.id, "a new long secret")
    assert await service.authenticate("olga@example.com", PASSWORD) is None
    assert await service.authenticate("olga@example.com", "a new long secret") is not None

    with pytest.raises(NotFoundError):
        await service.set_password(987654, "a new long secret")


async def test_an_old_hash_is_upgraded_at_login(db_session: AsyncSession, settings: Settings):
    user = await make_user(db_session, [], email="olga@example.com")
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    user.password_hash = weak
    await db_session.commit()

    assert await UserService(session=db_session).authenticate("olga@example.com", PASSWORD)
    await db_session.commit()  # the sign-in request commits the upgraded hash
    [row] = await committed_users(settings)
    assert row["password_hash"] != weak
    assert not needs_rehash(row["password_hash"])
    assert verify_password(row["password_hash"], PASSWORD)


async def test_a_stronger_hash_is_kept_at_login(db_session: AsyncSession, settings: Settings):
    user = await make_user(db_session, [], email="olga@example.com")
    strong = PasswordHasher().hash(PASSWORD)  # argon2-cffi's defaults: 64 MiB, 3 passes
    user.password_hash = strong
    await db_session.commit()

    assert await UserService(session=db_session).authenticate("olga@example.com", PASSWORD)
    await db_session.commit()
    [row] = await committed_users(settings)
    assert row["password_hash"] == strong


async def test_set_branches(db_session: AsyncSession):
    moscow = await make_branch(db_session, "Moscow")
    kazan = await make_branch(db_session, "Kazan")
    user = await make_user(db_session, [moscow], email="olga@example.com")
    service = UserService(session=db_session)
    assert (await service.set_branches(user.id, [kazan])).branch_ids == {kazan.id}
    assert (await service.set_branches(user.id, [])).branch_ids == set()
    with pytest.raises(NotFoundError):
        await service.require(987654)


# --- branches -------------------------------------------------------------------------------


async def test_branch_names_are_unique_whatever_the_case(db_session: AsyncSession):
    service = BranchService(session=db_session)
    moscow = await service.create_branch("  Moscow ")
    assert moscow.name == "Moscow"
    for again in ("Moscow", "moscow", " MOSCOW "):
        with pytest.raises(ConflictError):
            await service.create_branch(again)
    assert await service.count() == 1


@pytest.mark.parametrize("name", ["", "  ", "x" * 201])
async def test_bad_branch_name_is_refused(db_session: AsyncSession, name: str):
    with pytest.raises(InvalidInputError):
        await BranchService(session=db_session).create_branch(name)


async def test_branch_require(db_session: AsyncSession):
    service = BranchService(session=db_session)
    a = await service.create_branch("A")
    b = await service.create_branch("B")
    assert [x.id for x in await service.require_all([b.id, a.id, b.id])] == [b.id, a.id]
    with pytest.raises(NotFoundError):
        await service.require(987654)
    with pytest.raises(NotFoundError):
        await service.require_all([a.id, 987654])
