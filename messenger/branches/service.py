from __future__ import annotations

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import func, select

from messenger.db.models import Branch
from messenger.errors import ConflictError, InvalidInputError, NotFoundError
from messenger.i18n import N_


class BranchService(SQLAlchemyAsyncRepositoryService[Branch]):
    class Repo(SQLAlchemyAsyncRepository[Branch]):
        model_type = Branch

    repository_type = Repo

    async def create_branch(self, name: str) -> Branch:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInputError(N_("A branch needs a name of 1 to 200 characters."))
        existing = await self.repository.session.scalar(
            select(Branch).where(func.lower(Branch.name) == name.lower())
        )
        if existing is not None:
            raise ConflictError(
                N_("A branch named %(name)r already exists (id %(id)d)."),
                params={"name": name, "id": existing.id},
            )
        return await self.create(Branch(name=name), auto_commit=True)

    async def require(self, branch_id: int) -> Branch:
        branch = await self.get_one_or_none(id=branch_id)
        if branch is None:
            raise NotFoundError(N_("There is no branch with id %(id)s."), params={"id": branch_id})
        return branch

    async def require_all(self, branch_ids: list[int]) -> list[Branch]:
        branches = [await self.require(branch_id) for branch_id in dict.fromkeys(branch_ids)]
        return branches
