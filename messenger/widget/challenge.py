"""Proof-of-work for suspicious traffic (ALTCHA v1: find n with SHA-256(salt + n) = challenge).

A challenge is signed (HMAC) and carries its expiry in the salt, so issuing one writes
nothing; a *solution* is single-use: its signature is claimed in the shared store until
the challenge expires, so a replayed solution is refused, in any process.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from typing import Any

from altcha import ChallengeOptionsV1, create_challenge_v1, verify_solution_v1

from messenger.errors import DomainError
from messenger.state import SharedState

CHALLENGE_TTL = datetime.timedelta(minutes=5)


class ChallengeRequiredError(DomainError):
    status_code = 428
    code = "challenge_required"


class Challenges:
    def __init__(self, state: SharedState, secret: str, max_number: int) -> None:
        self._state = state
        self._key = hashlib.sha256(b"messenger/altcha/" + secret.encode()).hexdigest()
        self._max_number = max_number

    def issue(self) -> dict[str, Any]:
        challenge = create_challenge_v1(
            ChallengeOptionsV1(
                hmac_key=self._key,
                max_number=self._max_number,
                expires=datetime.datetime.now(datetime.UTC) + CHALLENGE_TTL,
            )
        )
        return {
            "algorithm": challenge.algorithm,
            "challenge": challenge.challenge,
            "maxnumber": challenge.max_number,
            "salt": challenge.salt,
            "signature": challenge.signature,
        }

    def required(self, detail: str) -> ChallengeRequiredError:
        return ChallengeRequiredError(detail, extra={"challenge": self.issue()})

    async def redeem(self, solution: str | None) -> bool:
        """True for a valid, unexpired solution seen for the first time."""
        if not solution or len(solution) > 2048:
            return False
        try:
            ok, _ = verify_solution_v1(solution, self._key, check_expires=True)
            signature = json.loads(base64.b64decode(solution))["signature"]
        except (ValueError, KeyError, TypeError):
            return False
        if not ok or not isinstance(signature, str):
            return False
        ttl_ms = int(CHALLENGE_TTL.total_seconds() * 1000) + 60_000
        return await self._state.claim(f"challenge:used:{signature}", ttl_ms) == 0

    async def demand(
        self,
        *,
        count: int,
        threshold: int,
        solution: str | None,
        detail: str,
        over: bool = False,
    ) -> None:
        """The challenge decision: past ``threshold`` calls (or when ``over`` says another
        limit is passed), go on only with a fresh valid solution; otherwise raise 428 with a
        new challenge to solve."""
        if (over or count > threshold) and not await self.redeem(solution):
            raise self.required(detail)
