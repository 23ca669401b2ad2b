"""The bases of the domain services (accounts, branches, inboxes, routing, conversations).

advanced-alchemy's service takes its repository's type as a second type parameter that
defaults to ``Any``: left out, ``self.repository`` and every query run through its session
go unchecked. ``RepositoryService[Model]`` gives it. (mypy types ``return await
session.scalar(...)`` as ``Any``, python/mypy#18805: the services bind the row to a name
first.)
"""

from __future__ import annotations

from typing import TypeAlias

from advanced_alchemy.repository import SQLAlchemyAsyncRepository as Repository
from advanced_alchemy.repository.typing import ModelT
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService

__all__ = ["Repository", "RepositoryService"]

RepositoryService: TypeAlias = SQLAlchemyAsyncRepositoryService[ModelT, Repository[ModelT]]
