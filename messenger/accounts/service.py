from __future__ import annotations

import re

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import func, select

from messenger.accounts.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from messenger.db.models import Branch, User, UserRole
from messenger.errors import ConflictError, InvalidInputError, NotFoundError
from messenger.i18n import N_

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidInputError(N_("%(email)r is not an e-mail address."), params={"email": email})
    return email


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            N_("A password needs at least %(count)d characters."),
            params={"count": MIN_PASSWORD_LENGTH},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInputError(
            N_("A password may have at most %(count)d characters."),
            params={"count": MAX_PASSWORD_LENGTH},
        )


class UserService(SQLAlchemyAsyncRepositoryService[User]):
    class Repo(SQLAlchemyAsyncRepository[User]):
        model_type = User

    repository_type = Repo

    async def get_by_email(self, email: str) -> User | None:
        return await self.repository.session.scalar(
            select(User).where(func.lower(User.email) == email.strip().lower())
        )

    async def create_user(
        self,
        *,
        email: str,
        name: str,
        password: str,
        role: UserRole = UserRole.OPERATOR,
        branches: list[Branch] | None = None,
    ) -> User:
        email = normalize_email(email)
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInputError(N_("A user needs a name of 1 to 200 characters."))
        check_password_policy(password)
        if await self.get_by_email(email) is not None:
            raise ConflictError(
                N_("A user with e-mail %(email)s already exists."), params={"email": email}
            )
        user = User(
            email=email,
            name=name,
            password_hash=hash_password(password),
            role=role,
            branches=list(branches or []),
        )
        return await self.create(user, auto_commit=True)

    async def authenticate(self, email: str, password: str) -> User | None:
        """The active user with these credentials, or None (same work either way)."""
        user = await self.get_by_email(email)
        ok = verify_password(user.password_hash if user else None, password)
        if user is None or not ok or not user.is_active:
            return None
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            await self.repository.session.commit()
        return user

    async def set_password(self, user_id: int, password: str) -> User:
        check_password_policy(password)
        user = await self.require(user_id)
        user.password_hash = hash_password(password)
        user.session_epoch += 1  # ends every other session of this user, streams included
        return await self.update(user, auto_commit=True)

    async def set_active(self, user_id: int, *, active: bool) -> User:
        user = await self.require(user_id)
        user.is_active = active
        return await self.update(user, auto_commit=True)

    async def set_branches(self, user_id: int, branches: list[Branch]) -> User:
        user = await self.require(user_id)
        user.branches = list(branches)
        return await self.update(user, auto_commit=True)

    async def require(self, user_id: int) -> User:
        user = await self.get_one_or_none(id=user_id)
        if user is None:
            raise NotFoundError(N_("There is no user with id %(id)s."), params={"id": user_id})
        return user
