"""The widget limits, counted atomically in the shared store (Redis across processes).

Every widget call has one (see docs/widget-api.md); per-IP keys count an IPv6 client by its
network (``MESSENGER_IPV6_PREFIX``, /64 by default), never by a single address. Fixed windows: simple to reason about and to explain to a site owner ("30 per minute");
the burst at a window edge is bounded by twice the limit, which the per-IP and per-session
limits together keep small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from messenger.client_ip import ip_bucket
from messenger.config import Rate, Settings
from messenger.errors import DomainError
from messenger.i18n import N_
from messenger.inboxes.cache import GENERATION_KEY
from messenger.realtime.batch import Coalescer
from messenger.state import Check, SharedState


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


#: An open stream's lease: (client IP, session key, stream id).
Lease = tuple[str, str, str]
#: Lease renewals asked within this window (every open stream's heartbeat asks one) go to
#: the shared store as one call: 5,000 streams beating every 15 s are ~10 calls a second
#: instead of ~330, and they no longer crowd the Redis pool while visitors arrive.
RENEW_WINDOW_SECONDS = 0.1


class Throttle:
    """Each call's limits are counted in **one** round trip (:meth:`SharedState.check`),
    which also reads the inboxes' generation: the answer (an int) is what the inbox cache
    is validated with, so the hot path learns of an admin's change at no extra cost."""

    def __init__(self, state: SharedState, settings: Settings) -> None:
        self._state = state
        self._settings = settings
        self._renewals: Coalescer[Lease, None] = Coalescer(
            self._renew_leases, window=RENEW_WINDOW_SECONDS, max_keys=500
        )

    async def _limits(self, *limits: tuple[Limit, str], gap: tuple[str, int] | None = None) -> int:
        checks: list[Check] = []
        names: list[str] = []
        if gap is not None:
            checks.append(Check(f"throttle:{gap[0]}", "gap", gap[1]))
            names.append(gap[0].split(":", 1)[0])
        for limit, subject in limits:
            window_ms = limit.rate.window_seconds * 1000
            key = f"throttle:{limit.name}:{subject}"
            checks.append(Check(key, "window", window_ms, limit.rate.limit))
            names.append(limit.name)
        checked = await self._state.check(GENERATION_KEY, checks)
        if checked.refused is not None:
            raise ThrottledError(checked.retry_ms, names[checked.refused])
        return checked.generation

    def ip(self, ip: str) -> str:
        """The per-IP key of an address (IPv6: its network)."""
        return ip_bucket(ip, self._settings.ipv6_prefix)

    async def bootstrap(self, ip: str) -> int:
        s = self._settings
        return await self._limits(
            (Limit("bootstrap_per_ip", s.widget_bootstrap_rate_per_ip), self.ip(ip))
        )

    async def new_session(self, ip: str, inbox_id: int) -> tuple[int, bool]:
        """Count a new session of this IP (the challenge's input) and in the per-inbox
        bucket, in one round trip: ``(sessions this IP started in the window, past the
        inbox's bucket)``. Never a refusal: past the bucket a new session must solve the
        challenge, and a returning visitor (a valid session) is not counted at all, so
        holding the public token is no off switch."""
        per_ip = self._settings.widget_bootstrap_rate_per_ip.window_seconds * 1000
        per_inbox = self._settings.widget_bootstrap_rate_per_token
        checked = await self._state.check(
            GENERATION_KEY,
            [
                Check(f"suspicion:new_session:{self.ip(ip)}", "window", per_ip, 2**62),
                Check(
                    f"throttle:bootstrap_per_token:{inbox_id}",
                    "window",
                    per_inbox.window_seconds * 1000,
                    2**62,
                ),
            ],
        )
        from_ip, in_inbox = checked.counts
        return from_ip, in_inbox > per_inbox.limit

    async def send(self, ip: str, session_key: str) -> int:
        s = self._settings
        return await self._limits(
            (Limit("send_per_session", s.widget_send_rate_per_session), session_key),
            (Limit("send_per_ip", s.widget_send_rate_per_ip), self.ip(ip)),
        )

    async def typing(self, session_key: str) -> int:
        rate = self._settings.widget_typing_rate_per_session
        return await self._limits((Limit("typing_per_session", rate), session_key))

    async def read(self, session_key: str) -> int:
        rate = self._settings.widget_read_rate_per_session
        return await self._limits((Limit("read_per_session", rate), session_key))

    async def ticket(self, session_key: str) -> int:
        rate = self._settings.widget_ticket_rate_per_session
        return await self._limits((Limit("ticket_per_session", rate), session_key))

    async def transcript(self, session_key: str) -> int:
        rate = self._settings.widget_transcript_rate_per_session
        return await self._limits((Limit("transcript_per_session", rate), session_key))

    async def upload(self, ip: str, session_key: str) -> int:
        s = self._settings
        return await self._limits(
            (Limit("upload_per_session", s.widget_upload_rate_per_session), session_key),
            (Limit("upload_per_ip", s.widget_upload_rate_per_ip), self.ip(ip)),
        )

    async def download(self, ip: str) -> int:
        rate = self._settings.widget_download_rate_per_ip
        return await self._limits((Limit("download_per_ip", rate), self.ip(ip)))

    def stream_ttl_ms(self) -> int:
        """How long an open stream's lease lives without a heartbeat renewing it: a crashed
        process's streams stop counting after this."""
        return int(max(3 * self._settings.stream_heartbeat_seconds, 30) * 1000)

    def _stream_keys(self, ip: str, session_key: str) -> dict[str, int]:
        s = self._settings
        return {
            f"streams:session:{session_key}": s.widget_streams_per_session,
            f"streams:ip:{self.ip(ip)}": s.widget_streams_per_ip,
        }

    async def open_stream(self, ip: str, session_key: str, stream_id: str) -> None:
        """Count one open stream per session and per IP; the one past a cap is refused (the
        open ones, the oldest, are kept). Renew on every heartbeat; close when done."""
        ttl = self.stream_ttl_ms()
        full = await self._state.enter(self._stream_keys(ip, session_key), stream_id, ttl)
        if full is not None:
            name = "streams_per_session" if ":session:" in full else "streams_per_ip"
            raise ThrottledError(ttl, name)

    async def renew_stream(self, ip: str, session_key: str, stream_id: str) -> None:
        """Renew (never refuse) an open stream's lease, together with the other streams'
        renewals of the same window; a failed call raises in each of them."""
        await self._renewals.get((ip, session_key, stream_id))

    async def _renew_leases(self, leases: list[Lease]) -> dict[Lease, None]:
        renewals = [(list(self._stream_keys(ip, key)), stream) for ip, key, stream in leases]
        await self._state.renew(renewals, self.stream_ttl_ms())
        return {}

    async def close_stream(self, ip: str, session_key: str, stream_id: str) -> None:
        await self._state.leave(list(self._stream_keys(ip, session_key)), stream_id)

    async def poll(self, session_key: str) -> int:
        """A minimum interval between two polls, then the per-session window."""
        s = self._settings
        gap_ms = int(s.widget_poll_min_interval_seconds * 1000)
        return await self._limits(
            (Limit("poll_per_session", s.widget_poll_rate_per_session), session_key),
            gap=(f"poll_min_interval:{session_key}", gap_ms) if gap_ms > 0 else None,
        )

    async def count_offline_form(self, ip: str) -> int:
        window = self._settings.widget_bootstrap_rate_per_ip.window_seconds * 1000
        count, _ = await self._state.hit(f"suspicion:offline:{self.ip(ip)}", window)
        return count
