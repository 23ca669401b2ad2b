"""Admin: an inbox's routing rules — add, move up or down, delete."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.dashboard.controllers.inboxes import PublicUrl, inbox_page
from messenger.dashboard.deps import DashboardRequest
from messenger.dashboard.forms import RuleForm, int_or_none
from messenger.db.models import User
from messenger.errors import DomainError
from messenger.inboxes.service import InboxService
from messenger.routing.service import RoutingRuleService

CurrentUser = NamedDependency[User]
DB = NamedDependency[AsyncSession]

#: The moves the rule list offers, as offsets in the list.
MOVES = {"up": -1, "down": 1}


class RoutingRulesController(Controller):
    path = "/inboxes/{inbox_id:int}/rules"

    @post("/", name="admin_rule_add", status_code=200)
    async def add_rule(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        public_url: PublicUrl,
        inbox_id: FromPath[int],
        data: URLEncodedBody[RuleForm],
    ) -> Template:
        inbox = await InboxService(session=db_session).require(inbox_id)
        try:
            await RoutingRuleService(session=db_session).add_rule(
                inbox.id,
                name=data.name,
                conditions=data.conditions(),
                target_branch_id=int_or_none(data.target_branch_id) or 0,
            )
        except DomainError as exc:
            return await inbox_page(
                public_url, db_session, current_user, inbox, error=exc.translated(), status_code=400
            )
        return await inbox_page(public_url, db_session, current_user, inbox, saved=True)

    @post("/{rule_id:int}/{action:str}", name="admin_rule_action", status_code=303)
    async def rule_action(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        inbox_id: FromPath[int],
        rule_id: FromPath[int],
        action: FromPath[str],
    ) -> Redirect:
        """``up``, ``down`` or ``delete``; a rule of another inbox is refused (422)."""
        rules = RoutingRuleService(session=db_session)
        if action == "delete":
            await rules.delete_rule(inbox_id, rule_id)
        else:
            await rules.move(inbox_id, rule_id, MOVES.get(action, 0))
        target = request.app.route_reverse("admin_inbox", inbox_id=inbox_id)
        return Redirect(f"{target}#routing", status_code=303)
