"""Routing service: rules in order → the inbox's fallback branch → the default branch.

Also the admin's edits of an inbox's rule list (add, move, delete). Nothing here commits:
the caller's unit of work does.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from messenger.db import audit
from messenger.db.models import Branch, Inbox, RoutingRule
from messenger.db.repository import Repository, RepositoryService
from messenger.errors import InvalidInputError, NotFoundError
from messenger.i18n import N_
from messenger.routing.conditions import VisitorContext, parse_conditions


class RoutingRuleService(RepositoryService[RoutingRule]):
    """Routing rules of global inboxes, and the routing decision itself."""

    class Repo(Repository[RoutingRule]):
        model_type = RoutingRule

    repository_type = Repo

    async def rules_of(self, inbox_id: int, *, with_branches: bool = False) -> list[RoutingRule]:
        """The inbox's rules in the order they are tried (with their target branches loaded
        when a page shows them)."""
        query = (
            select(RoutingRule)
            .where(RoutingRule.inbox_id == inbox_id)
            .order_by(RoutingRule.position, RoutingRule.id)
        )
        if with_branches:
            query = query.options(selectinload(RoutingRule.target_branch))
        result = await self.repository.session.execute(query)
        return list(result.scalars())

    async def add_rule(
        self, inbox_id: int, *, name: str, conditions: dict[str, Any], target_branch_id: int
    ) -> RoutingRule:
        """A new rule at the end of the inbox's list (tried last)."""
        session = self.repository.session
        target = await session.get(Branch, target_branch_id) if target_branch_id else None
        if target is None:
            raise NotFoundError(
                N_("There is no branch with id %(id)s."), params={"id": target_branch_id}
            )
        parsed = parse_conditions(conditions)
        rules = await self.rules_of(inbox_id)
        rule = RoutingRule(
            inbox_id=inbox_id,
            position=(max((r.position for r in rules), default=0)) + 1,
            name=name.strip()[:200],
            conditions=msgspec.to_builtins(parsed),
            target_branch_id=target.id,
        )
        rule = await self.create(rule, auto_refresh=False)
        audit.record(
            session,
            "routing_rule.create",
            f"inbox:{inbox_id}",
            {"rule_id": rule.id, "name": rule.name, "conditions": rule.conditions,
             "target_branch_id": target.id},
        )  # fmt: skip
        return rule

    async def move(self, inbox_id: int, rule_id: int, offset: int) -> list[RoutingRule]:
        """Move a rule ``offset`` places (-1: up, +1: down), within the list's ends; the
        positions are renumbered 1..n."""
        rules = await self.rules_of(inbox_id)
        index = self._index(rules, rule_id)
        target = min(max(index + offset, 0), len(rules) - 1)
        rules.insert(target, rules.pop(index))
        audit.record(
            self.repository.session,
            "routing_rule.move",
            f"inbox:{inbox_id}",
            {"rule_id": rule_id, "before": {"position": index + 1},
             "after": {"position": target + 1}},
        )  # fmt: skip
        return await self._renumber(rules)

    async def delete_rule(self, inbox_id: int, rule_id: int) -> list[RoutingRule]:
        rules = await self.rules_of(inbox_id)
        gone = rules.pop(self._index(rules, rule_id))
        audit.record(
            self.repository.session,
            "routing_rule.delete",
            f"inbox:{inbox_id}",
            {"rule_id": gone.id, "name": gone.name, "conditions": gone.conditions},
        )
        await self.repository.session.delete(gone)
        return await self._renumber(rules)

    @staticmethod
    def _index(rules: list[RoutingRule], rule_id: int) -> int:
        """Where the rule is in its inbox's list; a rule of another inbox is refused."""
        index = next((i for i, rule in enumerate(rules) if rule.id == rule_id), None)
        if index is None:
            raise InvalidInputError(N_("No such routing rule."))
        return index

    async def _renumber(self, rules: list[RoutingRule]) -> list[RoutingRule]:
        for position, rule in enumerate(rules, start=1):
            rule.position = position
        await self.repository.session.flush()
        return rules

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
