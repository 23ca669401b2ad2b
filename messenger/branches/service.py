"""Branches: create, rename, (de)activate. Nothing here commits: the caller's unit of work does
(a dashboard request, a CLI command)."""

from __future__ import annotations

from sqlalchemy import func, select

from messenger.db import audit
from messenger.db.models import Branch
from messenger.db.repository import Repository, RepositoryService
from messenger.errors import ConflictError, InvalidInputError, NotFoundError
from messenger.i18n import N_

MAX_NAME_LENGTH = 200


class BranchService(RepositoryService[Branch]):
    class Repo(Repository[Branch]):
        model_type = Branch

    repository_type = Repo

    async def _named(self, name: str, *, other_than: int | None = None) -> Branch | None:
        """The branch with this name, compared case-insensitively ("alpha" is "Alpha")."""
        query = select(Branch).where(func.lower(Branch.name) == name.lower())
        if other_than is not None:
            query = query.where(Branch.id != other_than)
        branch = await self.repository.session.scalar(query)
        return branch

    async def create_branch(self, name: str) -> Branch:
        name = name.strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            raise InvalidInputError(N_("A branch needs a name of 1 to 200 characters."))
        existing = await self._named(name)
        if existing is not None:
            raise ConflictError(
                N_("A branch named %(name)r already exists (id %(id)d)."),
                params={"name": name, "id": existing.id},
            )
        branch = await self.create(Branch(name=name), auto_refresh=False)
        audit.record(
            self.repository.session, "branch.create", f"branch:{branch.id}", {"name": name}
        )
        return branch

    async def rename(self, branch_id: int, name: str) -> Branch:
        """A new, still unique name; refused before anything changes."""
        branch = await self.require(branch_id)
        name = name.strip()
        if (
            not name
            or len(name) > MAX_NAME_LENGTH
            or await self._named(name, other_than=branch.id) is not None
        ):
            raise InvalidInputError(N_("A branch needs a unique name of 1 to 200 characters."))
        before = branch.name
        branch.name = name
        await self.repository.session.flush()
        audit.record(
            self.repository.session,
            "branch.update",
            f"branch:{branch.id}",
            {"before": {"name": before}, "after": {"name": name}},
        )
        return branch

    async def set_active(self, branch_id: int, *, active: bool) -> Branch:
        branch = await self.require(branch_id)
        before = branch.is_active
        branch.is_active = active
        await self.repository.session.flush()
        audit.record(
            self.repository.session,
            "branch.update",
            f"branch:{branch.id}",
            {"before": {"active": before}, "after": {"active": active}},
        )
        return branch

    async def require(self, branch_id: int) -> Branch:
        branch = await self.get_one_or_none(id=branch_id)
        if branch is None:
            raise NotFoundError(N_("There is no branch with id %(id)s."), params={"id": branch_id})
        return branch

    async def require_all(self, branch_ids: list[int]) -> list[Branch]:
        return [await self.require(branch_id) for branch_id in dict.fromkeys(branch_ids)]

    async def ordered(self) -> list[Branch]:
        """Every branch by name (the admin pages' choices)."""
        return list(await self.repository.session.scalars(select(Branch).order_by(Branch.name)))
