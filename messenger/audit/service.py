"""Reading the audit log (the admin page, ``messenger audit list``) and pruning it.

The app never updates an entry and deletes only through :func:`prune` (retention,
``MESSENGER_AUDIT_RETENTION_DAYS``); on PostgreSQL a trigger refuses any UPDATE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import AuditEntry

PAGE_SIZE = 50

#: Every action written (the page's filter offers them).
ACTIONS: tuple[str, ...] = (
    "auth.sign_in",
    "auth.sign_out",
    "auth.sign_in_failed",
    "inbox.create",
    "inbox.settings",
    "inbox.allowlist",
    "inbox.token_rotate",
    "inbox.identity_secret_rotate",
    "routing_rule.create",
    "routing_rule.move",
    "routing_rule.delete",
    "branch.create",
    "branch.update",
    "operator.create",
    "operator.update",
    "operator.password",
    "api_token.create",
    "api_token.revoke",
    "webhook.create",
    "webhook.update",
    "webhook.delete",
    "label.create",
    "label.update",
    "label.delete",
    "saved_reply.create",
    "saved_reply.update",
    "saved_reply.delete",
    "visitor.export",
    "visitor.erase",
    "retention.run",
)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    #: A part of the actor's e-mail ("cli" for the command line).
    actor: str = ""
    #: An action, or a family (``inbox`` matches ``inbox.*``).
    action: str = ""
    since: datetime | None = None
    #: Exclusive upper bound.
    until: datetime | None = None


def _filtered(query: Select[tuple[AuditEntry]], where: AuditFilter) -> Select[tuple[AuditEntry]]:
    if where.actor:
        escaped = where.actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(AuditEntry.actor_email.ilike(f"%{escaped}%", escape="\\"))
    if where.action:
        query = query.where(
            or_(AuditEntry.action == where.action, AuditEntry.action.startswith(f"{where.action}."))
        )
    if where.since is not None:
        query = query.where(AuditEntry.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEntry.at < where.until)
    return query


async def entries(
    db: AsyncSession, where: AuditFilter, page: int = 1, size: int = PAGE_SIZE
) -> tuple[list[AuditEntry], bool]:
    """One page, newest first, and whether another page follows."""
    page = max(page, 1)
    query = (
        _filtered(select(AuditEntry), where)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset((page - 1) * size)
        .limit(size + 1)
    )
    rows = list(await db.scalars(query))
    return rows[:size], len(rows) > size


async def count(db: AsyncSession, where: AuditFilter) -> int:
    query = _filtered(select(func.count()).select_from(AuditEntry), where)  # type: ignore[arg-type]
    return int(await db.scalar(query) or 0)


async def prune(db: AsyncSession, days: int) -> int:
    """Delete the entries older than ``days`` (the only delete of the table)."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    result = await db.execute(delete(AuditEntry).where(AuditEntry.at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
