"""``messenger audit list``: the audit log at the terminal (the admin page's filters)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.audit.service import AuditFilter, entries
from messenger.cli.common import emit, json_option, run_db
from messenger.config import Settings
from messenger.db.models import AuditEntry


@click.group("audit")
def audit_group() -> None:
    """The audit log: who changed configuration or access, when, from where."""


def entry_dict(row: AuditEntry) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "actor_id": row.actor_id,
        "actor_email": row.actor_email,
        "ip": row.ip,
        "action": row.action,
        "target": row.target,
        "changes": row.changes,
    }


@audit_group.command("list")
@click.option("--actor", default="", help="A part of the actor's e-mail ('cli', 'system').")
@click.option("--action", default="", help="An action or a family ('inbox', 'auth.sign_in').")
@click.option("--since", type=click.DateTime(), help="From this UTC date/time.")
@click.option("--until", type=click.DateTime(), help="Before this UTC date (the whole day).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@json_option
def audit_list(
    actor: str,
    action: str,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """The newest entries first."""
    where = AuditFilter(
        actor=actor.strip(),
        action=action.strip(),
        since=since.replace(tzinfo=UTC) if since else None,
        until=(until.replace(tzinfo=UTC) + timedelta(days=1)) if until else None,
    )

    async def work(session: AsyncSession, _: Settings) -> list[dict[str, Any]]:
        rows, _more = await entries(session, where, 1, limit)
        return [entry_dict(row) for row in rows]

    rows = run_db(work)
    text = "\n".join(
        f"{r['at']}\t{r['actor_email']}\t{r['ip'] or '-'}\t{r['action']}\t{r['target'] or ''}"
        for r in rows
    )
    emit(as_json, {"entries": rows}, text or "No audit entries.")
