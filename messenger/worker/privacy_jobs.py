"""The worker's periodic privacy chores: retention of conversations, retention of the audit.

Retention runs one batch (``MESSENGER_RETENTION_BATCH_SIZE`` conversations) per call in the
unit of work the worker opens for it: a short transaction; a backlog (the day retention is
switched on) drains batch by batch, one every :data:`RETENTION_EVERY_SECONDS`.
``messenger retention run`` does the same at once, in a loop.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.storage import storage_from_settings
from messenger.audit.service import prune
from messenger.config import Settings
from messenger.privacy.retention import cutoff_for, run_batch

RETENTION_EVERY_SECONDS = 300
AUDIT_PRUNE_EVERY_SECONDS = 86400


async def retention(session: AsyncSession, settings: Settings) -> int:
    """Anonymise or delete one batch of conversations inactive past the retention."""
    if settings.retention_days is None:
        return 0
    result = await run_batch(
        session,
        storage_from_settings(settings),
        settings.retention_mode,
        cutoff_for(settings.retention_days),
        settings.retention_batch_size,
    )
    return result.erasure.conversations + result.deleted_conversations


async def audit_prune(session: AsyncSession, settings: Settings) -> int:
    """Delete audit entries older than ``MESSENGER_AUDIT_RETENTION_DAYS``."""
    return await prune(session, settings.audit_retention_days)
