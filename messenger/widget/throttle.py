"""The six widget limits, counted atomically in the shared store (Redis across processes).

Fixed windows: simple to reason about and to explain to a site owner ("30 per minute");
the burst at a window edge is bounded by twice the limit, which the per-IP and per-session
limits together keep small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from messenger.config import Rate, Settings
from messenger.errors import DomainError
from messenger.i18n import N_
from messenger.state import SharedState


class ThrottledError(DomainError):
    status_code = 429
    code = "throttled"

    def __init__(self, retry_after_ms: int, limit: str) -> None:
        self.retry_after = max(1, math.ceil(retry_after_ms / 1000))
        super().__init__(
            N_("Too many requests; try again in %(seconds)d s."),
            params={"seconds": self.retry_after},
            extra={"retry_after": self.retry_after, "limit": limit},
        )


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    rate: Rate


class Throttle:
    def __init__(self, state: SharedState, settings: Settings) -> None:
        self._state = state
        self._settings = settings

    async def _check(self, limit: Limit, subject: str) -> int:
        window_ms = limit.rate.window_seconds * 1000
        count, ttl_ms = await self._state.hit(f"throttle:{limit.name}:{subject}", window_ms)
        if count > limit.rate.limit:
            raise ThrottledError(ttl_ms, limit.name)
        return count

    async def bootstrap(self, ip: str, inbox_id: int) -> None:
        s = self._settings
        await self._check(Limit("bootstrap_per_ip", s.widget_bootstrap_rate_per_ip), ip)
        await self._check(
            Limit("bootstrap_per_token", s.widget_bootstrap_rate_per_token), str(inbox_id)
        )

    async def send(self, ip: str, session_key: str) -> None:
        s = self._settings
        await self._check(Limit("send_per_session", s.widget_send_rate_per_session), session_key)
        await self._check(Limit("send_per_ip", s.widget_send_rate_per_ip), ip)

    async def poll(self, session_key: str) -> None:
        s = self._settings
        gap_ms = int(s.widget_poll_min_interval_seconds * 1000)
        wait_ms = await self._state.claim(f"throttle:poll_interval:{session_key}", gap_ms)
        if wait_ms:
            raise ThrottledError(wait_ms, "poll_min_interval")
        await self._check(Limit("poll_per_session", s.widget_poll_rate_per_session), session_key)

    async def count_new_session(self, ip: str) -> int:
        """How many new sessions this IP started in the bootstrap window (challenge input)."""
        window = self._settings.widget_bootstrap_rate_per_ip.window_seconds * 1000
        count, _ = await self._state.hit(f"suspicion:new_session:{ip}", window)
        return count

    async def count_offline_form(self, ip: str) -> int:
        window = self._settings.widget_bootstrap_rate_per_ip.window_seconds * 1000
        count, _ = await self._state.hit(f"suspicion:offline:{ip}", window)
        return count
