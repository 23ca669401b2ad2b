"""Inboxes as every widget call needs them, cached in each process.

Every widget call needs its inbox (allowlist, limits, settings); reading it from the
database on every call was a round trip and an ORM load per call. Here each process keeps
the active inboxes it has seen, and a single counter in the shared store — the inboxes'
*generation* — says when they are stale: whatever changes an inbox bumps it after the
commit (:func:`messenger.db.events.take_committed_inbox_changes` →
:meth:`messenger.realtime.publisher.Publisher.announce`), and every widget call reads it in
the same Redis round trip as its limits (:meth:`messenger.state.SharedState.check`). So a
changed allowlist or a rotated token applies on the next call in every process, with no
extra round trip and no pub/sub message that could be lost. ``MAX_AGE_SECONDS`` bounds
what a change made behind the app's back (SQL by hand) can leave stale.

The cached :class:`Inbox` objects are detached from any session: read-only snapshots
(columns only; their relationships raise). Nothing may change or ``add`` them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from messenger.db.models import Inbox
from messenger.inboxes.allowlist import is_allowed
from messenger.inboxes.service import TOKEN_PREFIX, inbox_settings
from messenger.inboxes.settings import InboxSettings
from messenger.state import SharedState

#: The shared counter bumped after any committed change of an inbox.
GENERATION_KEY = "inboxes:generation"
MAX_AGE_SECONDS = 60.0
#: Bounds the memory a flood of unknown tokens could take (misses are not cached).
MAX_ENTRIES = 10_000

Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass(frozen=True, slots=True)
class CachedInbox:
    inbox: Inbox
    settings: InboxSettings

    @property
    def id(self) -> int:
        return self.inbox.id

    @property
    def allowed_domains(self) -> list[str]:
        return self.settings.security.allowed_domains


class InboxCache:
    def __init__(
        self, sessions: Sessions, state: SharedState, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._sessions = sessions
        self._state = state
        self._clock = clock
        self._generation: int | None = None
        self._loaded_at = float("-inf")
        self._by_id: dict[int, CachedInbox] = {}
        self._by_token: dict[str, CachedInbox] = {}
        self._domains: list[str] | None = None

    def observe(self, generation: int) -> bool:
        """The generation the shared store holds now: drop everything if it moved (or
        if the cache is older than ``MAX_AGE_SECONDS``); True when it did."""
        now = self._clock()
        if generation != self._generation or now - self._loaded_at > MAX_AGE_SECONDS:
            self._by_id.clear()
            self._by_token.clear()
            self._domains = None
            self._generation = generation
            self._loaded_at = now
            return True
        return False

    async def refresh(self) -> bool:
        """Read the generation from the shared store (for calls that count no limit, and
        to confirm a refusal before answering it); True when the cache was dropped."""
        return self.observe((await self._state.check(GENERATION_KEY, ())).generation)

    async def by_id(self, inbox_id: int) -> CachedInbox | None:
        """The active inbox ``inbox_id`` (call :meth:`observe` or :meth:`refresh` first)."""
        cached = self._by_id.get(inbox_id)
        if cached is None:
            cached = await self._load(Inbox.id == inbox_id)
        return cached

    async def by_token(self, widget_token: str) -> CachedInbox | None:
        if not widget_token.startswith(TOKEN_PREFIX) or len(widget_token) > 64:
            return None
        cached = self._by_token.get(widget_token)
        if cached is None:
            cached = await self._load(Inbox.widget_token == widget_token)
        return cached

    async def allows_any(self, origin: str | None) -> bool:
        """Whether some active inbox allows ``origin`` (CORS preflights name no inbox)."""
        if origin is None:
            return False
        await self.refresh()
        if self._domains is None:
            async with self._sessions() as db:
                inboxes = (
                    await db.scalars(
                        select(Inbox).where(Inbox.is_active.is_(True)).options(raiseload("*"))
                    )
                ).all()
            self._domains = sorted(
                {d for inbox in inboxes for d in inbox_settings(inbox).security.allowed_domains}
            )
        return is_allowed(origin, self._domains)

    async def _load(self, condition: object) -> CachedInbox | None:
        generation = self._generation
        async with self._sessions() as db:
            inbox = await db.scalar(
                select(Inbox)
                .where(condition, Inbox.is_active.is_(True))  # type: ignore[arg-type]
                .options(raiseload("*"))
            )
            if inbox is None:
                return None
            db.expunge(inbox)
        cached = CachedInbox(inbox, inbox_settings(inbox))
        # Keep it only if no newer generation was observed meanwhile.
        if generation == self._generation:
            if len(self._by_id) >= MAX_ENTRIES:
                self._by_id.clear()
                self._by_token.clear()
            self._by_id[inbox.id] = cached
            self._by_token[inbox.widget_token] = cached
        return cached
