"""``messenger worker`` (the job worker) and ``messenger webhook`` (endpoints)."""

from __future__ import annotations

import asyncio
import logging.config

import click
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.cli.common import emit, json_option, load_settings, run_db
from messenger.config import Settings
from messenger.db.outbox import EVENT_TYPES
from messenger.logs import logging_config
from messenger.webhooks.service import WebhookService
from messenger.worker.health import ALL_INTERFACES
from messenger.worker.process import run_worker


@click.command("worker")
@click.option("--once", is_flag=True, help="Carry out what is due now, then exit.")
@click.option(
    "--health-host",
    default=ALL_INTERFACES,
    show_default=True,
    help="Address of GET /ready.",
)
def worker(once: bool, health_host: str) -> None:
    """Run background jobs: webhook deliveries, e-mail, periodic functions.

    SIGTERM (or Ctrl-C) stops it gracefully: the batch in hand finishes; anything not
    finished is taken again when its lease ends. Run as many as you like.
    """
    settings = load_settings()
    logging.config.dictConfig(logging_config())
    asyncio.run(run_worker(settings, once=once, health_host=health_host))


@click.group("webhook")
def webhook_group() -> None:
    """Webhook endpoints (INTEGRATIONS.md §3)."""


@webhook_group.command("create")
@click.option("--url", required=True, help="Where to POST events (http or https).")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(EVENT_TYPES),
    help="An event to send (repeat; default: all).",
)
@click.option("--inbox", "inbox_id", type=int, default=None, help="Only this inbox's events.")
@click.option("--description", default=None)
@json_option
def webhook_create(
    url: str, events: tuple[str, ...], inbox_id: int | None, description: str | None, as_json: bool
) -> None:
    """Register an endpoint; prints its id and signing secret."""

    async def work(session: AsyncSession, settings: Settings) -> dict[str, object]:
        service = WebhookService(session, allow_private=settings.webhook_allow_private)
        endpoint = await service.create(url, events, inbox_id, description)
        return {"id": endpoint.id, "secret": endpoint.secret}

    created = run_db(work)
    emit(
        as_json,
        created,
        f"webhook endpoint {created['id']} created; signing secret (keep it): {created['secret']}",
    )


@webhook_group.command("list")
@json_option
def webhook_list(as_json: bool) -> None:
    """Endpoints with their state (secrets are not shown)."""

    async def work(session: AsyncSession, settings: Settings) -> list[dict[str, object]]:
        service = WebhookService(session, allow_private=settings.webhook_allow_private)
        return [
            {
                "id": e.id,
                "url": e.url,
                "events": e.events or list(EVENT_TYPES),
                "inbox_id": e.inbox_id,
                "enabled": e.enabled,
                "failure_streak": e.failure_streak,
            }
            for e in await service.all()
        ]

    endpoints = run_db(work)
    text = "\n".join(f"{e['id']}\t{'on' if e['enabled'] else 'OFF'}\t{e['url']}" for e in endpoints)
    emit(as_json, {"endpoints": endpoints}, text or "no webhook endpoints")
