"""Sign-in protection that an outsider cannot turn into a lock-out.

Three counters in the shared store, each over ``MESSENGER_SIGNIN_WINDOW_SECONDS``:

- failures per **account and client address** (IPv6 by its /64, :func:`ip_bucket`): the first
  ``MESSENGER_SIGNIN_FREE_FAILURES`` are free, then each failure makes that pair wait twice
  as long as the last (1 s, 2 s, 4 s… up to ``MESSENGER_SIGNIN_MAX_DELAY_SECONDS``). Only the
  guesser's own address waits; the owner elsewhere does not.
- attempts per **account** from every address, and per **address** over every account: past
  ``MESSENGER_SIGNIN_CHALLENGE_AFTER`` the form asks for a proof-of-work (ALTCHA, the
  widget's :class:`Challenges`) with each attempt instead of refusing, so a distributed
  guesser pays per guess while the owner still signs in (the browser solves it in a second).

The e-mail is kept only as a digest in the keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from messenger.client_ip import ip_bucket
from messenger.config import Settings
from messenger.state import SharedState
from messenger.widget.challenge import Challenges


@dataclass(frozen=True)
class Verdict:
    """``wait_ms`` > 0: refused, retry later; ``challenge``: solve this first."""

    wait_ms: int = 0
    challenge: dict[str, Any] | None = None

    @property
    def allowed(self) -> bool:
        return self.wait_ms == 0 and self.challenge is None


class SignInGuard:
    def __init__(self, state: SharedState, challenges: Challenges, settings: Settings) -> None:
        self._state = state
        self._challenges = challenges
        self._window_ms = int(settings.signin_window_seconds * 1000)
        self._free = settings.signin_free_failures
        self._max_delay_ms = int(settings.signin_max_delay_seconds * 1000)
        self._challenge_after = settings.signin_challenge_after
        self._v6_prefix = settings.ipv6_prefix

    @staticmethod
    def _account(email: str) -> str:
        return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]

    def _pair(self, email: str, ip: str) -> str:
        return f"{self._account(email)}:{ip_bucket(ip, self._v6_prefix)}"

    async def before(self, email: str, ip: str, solution: str | None) -> Verdict:
        """Whether this attempt may check a password now."""
        pair = self._pair(email, ip)
        # A 1 ms claim when there is no lock: it expires at once and never delays anybody.
        wait = await self._state.claim(f"signin:lock:{pair}", 1)
        if wait > 1:
            return Verdict(wait_ms=wait)
        by_account, _ = await self._state.hit(
            f"signin:account:{self._account(email)}", self._window_ms
        )
        by_address, _ = await self._state.hit(
            f"signin:address:{ip_bucket(ip, self._v6_prefix)}", self._window_ms
        )
        if max(
            by_account, by_address
        ) > self._challenge_after and not await self._challenges.redeem(solution):
            return Verdict(challenge=self._challenges.issue())
        return Verdict()

    async def failed(self, email: str, ip: str) -> int:
        """Count a wrong password; the ms this account and address must now wait (0 = none)."""
        pair = self._pair(email, ip)
        failures, _ = await self._state.hit(f"signin:failures:{pair}", self._window_ms)
        if failures < self._free:
            return 0
        delay: int = min(1000 * 2 ** min(failures - self._free, 30), self._max_delay_ms)
        await self._state.put(f"signin:lock:{pair}", b"1", delay)
        return delay
