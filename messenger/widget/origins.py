"""Every active inbox's allowed domains, for CORS preflights (which carry no token and so
cannot name their inbox). Cached a few seconds per process."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.models import Inbox
from messenger.inboxes.allowlist import is_allowed
from messenger.inboxes.service import inbox_settings

ALLOWLIST_CACHE_SECONDS = 5.0


class KnownOrigins:
    def __init__(self, sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]]) -> None:
        self._sessions = sessions
        self._domains: list[str] = []
        self._loaded_at = float("-inf")

    async def allows(self, origin: str | None) -> bool:
        if origin is None:
            return False
        if time.monotonic() - self._loaded_at > ALLOWLIST_CACHE_SECONDS:
            async with self._sessions() as db:
                inboxes = (
                    await db.execute(select(Inbox).where(Inbox.is_active.is_(True)))
                ).scalars()
                self._domains = sorted(
                    {d for inbox in inboxes for d in inbox_settings(inbox).security.allowed_domains}
                )
            self._loaded_at = time.monotonic()
        return is_allowed(origin, self._domains)
