"""Staff users: creation, sign-in, password, role, activity and branch membership.

Nothing here commits: the caller's unit of work does (a dashboard request commits when it
answers below 400, a CLI command when it ends).
"""

from __future__ import annotations

import re
from zoneinfo import available_timezones

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from messenger.accounts.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password_off_loop,
    needs_rehash,
    verify_password_off_loop,
)
from messenger.db import audit
from messenger.db.models import Branch, User, UserRole
from messenger.db.repository import Repository, RepositoryService
from messenger.errors import ConflictError, InvalidInputError, NotFoundError
from messenger.i18n import N_

MAX_NAME_LENGTH = 200
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidInputError(N_("%(email)r is not an e-mail address."), params={"email": email})
    return email


def parse_role(value: str) -> UserRole:
    try:
        return UserRole(value)
    except ValueError:
        raise InvalidInputError(N_("Unknown role.")) from None


def check_user_name(name: str) -> str:
    """The name as stored (trimmed), or refused."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(N_("A user needs a name of 1 to 200 characters."))
    return name


def check_membership(role: UserRole, branches: list[Branch]) -> None:
    """An operator works in at least one branch (an admin sees every branch anyway)."""
    if role == UserRole.OPERATOR and not branches:
        raise InvalidInputError(N_("An operator needs at least one branch."))


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


class UserService(RepositoryService[User]):
    class Repo(Repository[User]):
        model_type = User

    repository_type = Repo

    async def get_by_email(self, email: str) -> User | None:
        user = await self.repository.session.scalar(
            select(User)
            .where(func.lower(User.email) == email.strip().lower())
            .options(selectinload(User.branches))
        )
        return user

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
        name = check_user_name(name)
        check_password_policy(password)
        if await self.get_by_email(email) is not None:
            raise ConflictError(
                N_("A user with e-mail %(email)s already exists."), params={"email": email}
            )
        user = User(
            email=email,
            name=name,
            password_hash=await hash_password_off_loop(password),
            role=role,
            branches=list(branches or []),
        )
        user = await self.create(user, auto_refresh=False)
        audit.record(
            self.repository.session,
            "operator.create",
            f"user:{user.id}",
            {"email": email, "name": name, "role": role.value,
             "branch_ids": sorted(b.id for b in branches or [])},
        )  # fmt: skip
        return user

    async def authenticate(self, email: str, password: str) -> User | None:
        """The active user with these credentials, or None (same work either way)."""
        user = await self.get_by_email(email)
        ok = await verify_password_off_loop(user.password_hash if user else None, password)
        if user is None or not ok or not user.is_active:
            return None
        if needs_rehash(user.password_hash):
            user.password_hash = await hash_password_off_loop(password)
            await self.repository.session.flush()
        return user

    async def set_password(self, user_id: int, password: str) -> User:
        check_password_policy(password)
        user = await self.require(user_id)
        await self._new_password(user, password)
        await self.repository.session.flush()
        audit.record(self.repository.session, "operator.password", f"user:{user.id}")
        return user

    @staticmethod
    async def _new_password(user: User, password: str) -> None:
        user.password_hash = await hash_password_off_loop(password)
        user.session_epoch += 1  # ends every other session of this user, streams included

    async def set_active(self, user_id: int, *, active: bool) -> User:
        user = await self.require(user_id)
        before = user.is_active
        user.is_active = active
        await self.repository.session.flush()
        audit.record(
            self.repository.session,
            "operator.update",
            f"user:{user.id}",
            {"before": {"active": before}, "after": {"active": active}},
        )
        return user

    async def set_branches(self, user_id: int, branches: list[Branch]) -> User:
        user = await self.require(user_id)
        before = sorted(user.branch_ids)
        user.branches = list(branches)
        await self.repository.session.flush()
        audit.record(
            self.repository.session,
            "operator.update",
            f"user:{user.id}",
            {"before": {"branch_ids": before}, "after": {"branch_ids": sorted(user.branch_ids)}},
        )
        return user

    async def set_locale(self, user: User, locale: str) -> User:
        """The language the user chose (kept for the next sign-in too)."""
        user.locale = locale
        await self.repository.session.flush()
        return user

    async def set_notification_sound(self, user: User, *, on: bool) -> User:
        """The operator's choice: a sound with each notification, or none."""
        user.notification_sound = on
        await self.repository.session.flush()
        return user

    async def update_staff(
        self,
        user_id: int,
        *,
        actor: User,
        name: str,
        role: UserRole,
        active: bool,
        branches: list[Branch],
        password: str = "",
    ) -> User:
        """An admin's edit of a user: every rule is checked before anything changes.

        Nobody can deactivate themselves or take away their own admin role (an admin
        locked out of the admin pages would need the CLI to get back in).
        """
        target = await self.require(user_id)
        check_membership(role, branches)
        if target.id == actor.id and (not active or role != UserRole.ADMIN):
            raise InvalidInputError(
                N_("You cannot deactivate yourself or take away your own admin role.")
            )
        name = check_user_name(name)
        if password:
            check_password_policy(password)
        before = _staff_fields(target)
        target.name = name
        target.role = role
        target.is_active = active
        target.branches = list(branches)
        if password:
            await self._new_password(target, password)
        await self.repository.session.flush()
        changes = audit.diff(before, _staff_fields(target))
        if password:
            changes["password_changed"] = True
        audit.record(self.repository.session, "operator.update", f"user:{target.id}", changes)
        return target

    async def set_capacity(self, user_id: int, capacity: str | int) -> User:
        """The most open conversations auto-assignment gives the user (0 to 1000)."""
        target = await self.require(user_id)
        value = capacity if isinstance(capacity, int) else _whole(capacity)
        if value is None or not 0 <= value <= MAX_CAPACITY:
            raise InvalidInputError(
                N_("Capacity must be a whole number from 0 to %(most)d."),
                params={"most": MAX_CAPACITY},
            )
        before = target.capacity
        target.capacity = value
        await self.repository.session.flush()
        audit.record(
            self.repository.session,
            "operator.update",
            f"user:{target.id}",
            {"before": {"capacity": before}, "after": {"capacity": value}},
        )
        return target

    async def set_timezone(self, user: User, timezone: str) -> User:
        """The operator's time zone (snooze presets, dates shown); an IANA name."""
        name = timezone.strip()
        if name not in available_timezones():
            raise InvalidInputError(N_("Unknown time zone %(value)s."), params={"value": name[:64]})
        user.timezone = name
        await self.repository.session.flush()
        return user

    async def staff(self) -> list[User]:
        """Every user by name, with their branches (the operators page)."""
        return list(
            await self.repository.session.scalars(
                select(User).order_by(User.name).options(selectinload(User.branches))
            )
        )

    async def require(self, user_id: int) -> User:
        user = await self.get_one_or_none(id=user_id, load=[selectinload(User.branches)])
        if user is None:
            raise NotFoundError(N_("There is no user with id %(id)s."), params={"id": user_id})
        return user


def _staff_fields(user: User) -> dict[str, object]:
    return {
        "name": user.name,
        "role": user.role.value,
        "active": user.is_active,
        "branch_ids": sorted(b.id for b in user.branches),
    }


#: The largest capacity an admin may give an operator.
MAX_CAPACITY = 1000


def _whole(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and len(text) <= 6 else None
