"""``messenger api-token create|list|revoke``: the integration API's tokens.

``create`` prints the token once: only its hash is stored, nobody can show it again.
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.api_tokens.service import ApiTokenService, IssuedToken
from messenger.cli.common import emit, json_option, run_db
from messenger.config import Settings
from messenger.db.models import ApiToken


@click.group("api-token")
def api_token_group() -> None:
    """API tokens of the integration REST API (/api/v1/)."""


def token_dict(row: ApiToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "branch_ids": sorted(row.branch_ids),
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


@api_token_group.command("create")
@click.option("--name", required=True, help="Who uses it (shown as the author of its replies).")
@click.option(
    "--branch",
    "branch_ids",
    type=int,
    multiple=True,
    help="Branch id the token may reach (repeatable); none: every branch.",
)
@json_option
def api_token_create(name: str, branch_ids: tuple[int, ...], as_json: bool) -> None:
    """Create a token and print it once (only its hash is kept)."""

    async def work(session: AsyncSession, _: Settings) -> IssuedToken:
        return await ApiTokenService(session=session).issue(name, list(branch_ids))

    issued = run_db(work)
    scope = ", ".join(str(b) for b in sorted(issued.row.branch_ids)) or "all"
    emit(
        as_json,
        {"id": issued.row.id, "token": issued.token, "name": issued.row.name,
         "branch_ids": sorted(issued.row.branch_ids)},
        f"Created API token {issued.row.id} ({issued.row.name}; branches: {scope}).\n"
        f"Token (shown only now, keep it secret): {issued.token}",
    )  # fmt: skip


@api_token_group.command("list")
@json_option
def api_token_list(as_json: bool) -> None:
    """List tokens (never the tokens themselves): scope, last use, revocation."""

    async def work(session: AsyncSession, _: Settings) -> list[dict[str, Any]]:
        return [token_dict(row) for row in await ApiTokenService(session=session).ordered()]

    rows = run_db(work)
    text = "\n".join(
        "\t".join(
            [
                str(r["id"]),
                r["name"],
                f"{r['prefix']}…",
                "branches: " + (",".join(map(str, r["branch_ids"])) or "all"),
                f"last used: {r['last_used_at'] or '-'}",
                "revoked" if r["revoked_at"] else "active",
            ]
        )
        for r in rows
    )
    emit(as_json, {"api_tokens": rows}, text or "No API tokens yet.")


@api_token_group.command("revoke")
@click.argument("token_id", type=int)
@json_option
def api_token_revoke(token_id: int, as_json: bool) -> None:
    """Revoke a token: its next call is refused (401)."""

    async def work(session: AsyncSession, _: Settings) -> dict[str, Any]:
        return token_dict(await ApiTokenService(session=session).revoke(token_id))

    row = run_db(work)
    emit(as_json, row, f"Revoked API token {row['id']} ({row['name']}).")
