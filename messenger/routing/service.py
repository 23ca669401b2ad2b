"""Routing service: rules in order → the inbox's fallback branch → the default branch."""

from __future__ import annotations

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import select

from messenger.db.models import Inbox, RoutingRule
from messenger.routing.conditions import VisitorContext, parse_conditions


class RoutingRuleService(SQLAlchemyAsyncRepositoryService[RoutingRule]):
    """Routing rules of global inboxes, and the routing decision itself."""

    class Repo(SQLAlchemyAsyncRepository[RoutingRule]):
        model_type = RoutingRule

    repository_type = Repo

    async def rules_of(self, inbox_id: int) -> list[RoutingRule]:
        result = await self.repository.session.execute(
            select(RoutingRule)
            .where(RoutingRule.inbox_id == inbox_id)
            .order_by(RoutingRule.position, RoutingRule.id)
        )
        return list(result.scalars())

    async def route(
        self, inbox: Inbox, visitor: VisitorContext, default_branch_id: int | None
    ) -> int | None:
        """The branch a new conversation of ``inbox`` belongs to.

        A branch inbox routes to its branch. A global inbox tries its rules by position
        (first match wins), then its fallback branch, then ``MESSENGER_DEFAULT_BRANCH_ID``.
        None only when none of these exist: the conversation is then seen by admins only.
        """
        if inbox.branch_id is not None:
            return inbox.branch_id
        for rule in await self.rules_of(inbox.id):
            if parse_conditions(rule.conditions).matches(visitor):
                return rule.target_branch_id
        if inbox.fallback_branch_id is not None:
            return inbox.fallback_branch_id
        return default_branch_id
