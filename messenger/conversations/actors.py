"""Who acts on a conversation: a member of staff (:class:`User`), or an integration acting
under its own name (:class:`IntegrationActor`: an API token without ``author_email``).

Both answer the branch-scope questions of :mod:`messenger.conversations.rules`
(``is_active``, ``is_admin``, ``branch_ids``), so one set of rules serves the dashboard and
the REST API. Only a staff account is ever a message's ``author``; an integration signs
with its name (``Message.author_name``).
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import TypeAlias

from messenger.db.models import User


@dataclass(frozen=True, slots=True)
class IntegrationActor:
    """An integration (an API token) acting as itself: its name signs what it writes; its
    branch scope is ``branches`` (empty: every branch, like an admin)."""

    name: str
    branches: frozenset[int]
    is_active: bool = True
    #: Never assigned, never the author of a row: "mine" means nothing for it.
    id: None = None

    @property
    def is_admin(self) -> bool:
        """Sees every branch (the conversations no branch took included)."""
        return not self.branches

    @property
    def branch_ids(self) -> Set[int]:
        return self.branches


Actor: TypeAlias = User | IntegrationActor


def signature(actor: Actor | None) -> tuple[User | None, str | None]:
    """How ``actor`` signs a message: ``(author, author_name)``."""
    if isinstance(actor, IntegrationActor):
        return None, actor.name
    return actor, None
