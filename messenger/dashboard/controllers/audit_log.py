"""Admin: the audit log — filters (actor, action, date range) and pages, newest first."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.audit.service import ACTIONS, PAGE_SIZE, AuditFilter, entries
from messenger.db.models import User

CurrentUser = NamedDependency[User]
DB = NamedDependency[AsyncSession]


def _day(raw: str) -> date | None:
    """A ``YYYY-MM-DD`` from the date inputs; anything else: no bound (never a 500)."""
    try:
        return date.fromisoformat(raw.strip()) if raw.strip() else None
    except ValueError:
        return None


class AuditLogController(Controller):
    path = "/audit"

    @get("/", name="admin_audit")
    async def audit_log(
        self,
        db_session: DB,
        current_user: CurrentUser,
        actor: Annotated[str, QueryParameter(max_length=320)] = "",
        action: Annotated[str, QueryParameter(max_length=64)] = "",
        since: Annotated[str, QueryParameter(name="from", max_length=10)] = "",
        until: Annotated[str, QueryParameter(name="to", max_length=10)] = "",
        page: Annotated[int, QueryParameter(ge=1, le=100000)] = 1,
    ) -> Template:
        first, last = _day(since), _day(until)
        where = AuditFilter(
            actor=actor.strip(),
            action=action.strip(),
            since=datetime.combine(first, datetime.min.time(), UTC) if first else None,
            until=(
                datetime.combine(last, datetime.min.time(), UTC) + timedelta(days=1)
                if last
                else None
            ),
        )
        rows, more = await entries(db_session, where, page, PAGE_SIZE)
        return Template(
            "admin/audit.html",
            context={
                "user": current_user,
                "entries": rows,
                "actions": ACTIONS,
                "filters": {
                    "actor": where.actor,
                    "action": where.action,
                    "from": first.isoformat() if first else "",
                    "to": last.isoformat() if last else "",
                },
                "page": page,
                "has_more": more,
            },
        )
