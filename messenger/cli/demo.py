"""``messenger demo``: seed the demo (:mod:`messenger.demo.seed`) and print how to use it."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.cli.admin import branch_dict, inbox_dict
from messenger.cli.common import emit, json_option, run_db
from messenger.config import Settings
from messenger.demo.seed import DEMO_ADMIN_EMAIL, DEMO_OPERATOR_EMAIL, seed_demo


@click.command()
@json_option
def demo(as_json: bool) -> None:
    """Seed a demo branch, operator, admin and an inbox allowed on localhost (idempotent).

    The passwords are new random ones on every run (printed once, stored only hashed).
    """

    async def work(session: AsyncSession, settings: Settings) -> dict[str, Any]:
        seeded = await seed_demo(session)
        return {
            "branch": branch_dict(seeded.branch),
            "operator": {"email": DEMO_OPERATOR_EMAIL, "password": seeded.operator_password},
            "admin": {"email": DEMO_ADMIN_EMAIL, "password": seeded.admin_password},
            "inbox": inbox_dict(seeded.inbox, settings),
            "url": settings.public_url,
        }

    data = run_db(work)
    text = "\n".join(
        [
            f"Demo ready at {data['url']} (sign in at {data['url']}/login)",
            f"  operator: {data['operator']['email']}  password: {data['operator']['password']}",
            f"  admin:    {data['admin']['email']}  password: {data['admin']['password']}",
            f"  inbox:    {data['inbox']['name']}  token: {data['inbox']['widget_token']}",
            f"  snippet:  {data['inbox']['embed_snippet']}",
        ]
    )
    emit(as_json, data, text)
