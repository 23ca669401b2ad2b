"""``messenger cleanup``: delete uploads never sent in a message, older than the TTL.

Run it from cron or a systemd timer (docs/runbook.md, "Cleanup"); it is safe to run from
several machines at once (each row is deleted once) and to repeat.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import click
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.service import AttachmentService
from messenger.attachments.storage import storage_from_settings
from messenger.cli.common import emit, json_option, run_db
from messenger.config import Settings


@click.command("cleanup")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@json_option
def cleanup(dry_run: bool, as_json: bool) -> None:
    """Delete uploads never attached to a message once MESSENGER_UPLOAD_TTL_SECONDS passed."""

    async def work(session: AsyncSession, settings: Settings) -> tuple[list[str], Settings]:
        cutoff = datetime.now(UTC) - timedelta(seconds=settings.upload_ttl_seconds)
        service = AttachmentService(session, storage_from_settings(settings))
        if dry_run:
            return [a.storage_key for a in await service.unsent_before(cutoff)], settings
        return await service.delete_unsent_before(cutoff), settings

    keys, settings = run_db(work)  # the rows are gone (committed) before their files go
    if not dry_run:
        storage = storage_from_settings(settings)

        async def delete_files() -> None:
            for key in keys:
                await storage.delete(key)

        asyncio.run(delete_files())
    verb = "would delete" if dry_run else "deleted"
    emit(
        as_json,
        {
            "unsent_uploads": len(keys),
            "dry_run": dry_run,
            "ttl_seconds": settings.upload_ttl_seconds,
        },
        f"{verb} {len(keys)} upload(s) never sent, older than {settings.upload_ttl_seconds:g} s",
    )
