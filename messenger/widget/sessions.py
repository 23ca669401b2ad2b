"""Widget session tokens and stream tickets.

A session token is *signed*, not stored: ``ws1.<payload>.<hmac>`` where the payload names
the inbox, the visitor and the issue time. Why not a Redis record: a bootstrap must write
nothing (bots bootstrap a lot), and a visitor's history must survive a Redis restart. A
token of another inbox, a forged or an expired one never verifies. Each bootstrap issues a
fresh token (sliding expiry).

The SSE stream cannot send headers from ``EventSource``, so it takes a *ticket*: random,
single-use (taken atomically), valid for a minute, and never the session token itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

import msgspec

from messenger.state import SharedState

SESSION_TTL_SECONDS = 180 * 24 * 3600
TICKET_TTL_MS = 60_000
_PREFIX = "ws1"


class _Payload(msgspec.Struct, array_like=True, frozen=True):
    inbox_id: int
    visitor_id: str
    issued_at: int
    #: 1: a session of a contact (signed identity), restored only with that identity.
    identified: int = 0


@dataclass(frozen=True, slots=True)
class WidgetSession:
    inbox_id: int
    visitor_id: uuid.UUID
    issued_at: int
    identified: bool = False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


#: Tokens whose signature a process remembers having checked (about 200 bytes each).
SIGNED_TOKENS_REMEMBERED = 10_000


class SessionSigner:
    def __init__(self, secret: str) -> None:
        self._key = hmac.new(
            secret.encode(), b"messenger/widget-session/v1", hashlib.sha256
        ).digest()
        self._signed = lru_cache(maxsize=SIGNED_TOKENS_REMEMBERED)(self._check_signature)

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.digest(self._key, payload, "sha256"))

    def issue(
        self,
        inbox_id: int,
        visitor_id: uuid.UUID,
        now: float | None = None,
        *,
        identified: bool = False,
    ) -> str:
        issued = int(now if now is not None else time.time())
        # An anonymous session's payload is the three fields it always was; a contact's has
        # a fourth (the same tokens verify before and after contacts existed).
        fields: list[object] = [inbox_id, str(visitor_id), issued]
        if identified:
            fields.append(1)
        payload = msgspec.json.encode(fields)
        return f"{_PREFIX}.{_b64(payload)}.{self._sign(payload)}"

    def verify(self, token: str | None, now: float | None = None) -> WidgetSession | None:
        """The session, or None for a missing, malformed, forged or expired token."""
        if not token or len(token) > 512:
            return None
        session = self._signed(token)
        if session is None:
            return None
        current = now if now is not None else time.time()
        if not 0 <= current - session.issued_at <= SESSION_TTL_SECONDS + 60:
            return None
        return session

    def _check_signature(self, token: str) -> WidgetSession | None:
        """What a token says if this secret signed it (expiry aside); None otherwise.

        Remembered per token (``self._signed``, bounded): a visitor's widget sends the same
        token with every poll and send, and the signature, the base64 round trip and the
        UUID cost more than the rest of a poll's own checks together (docs/performance.md).
        Only the token's exact text is a key, so a changed token is checked anew."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _PREFIX:
            return None
        try:
            payload = _unb64(parts[1])
            # One spelling per token: the decoder skips characters outside the alphabet
            # and ignores the last character's spare bits, so a changed token could
            # otherwise still verify.
            if _b64(payload) != parts[1]:
                return None
            if not hmac.compare_digest(self._sign(payload), parts[2]):
                return None
            data = msgspec.json.decode(payload, type=_Payload)
            visitor_id = uuid.UUID(data.visitor_id)
        except (ValueError, msgspec.DecodeError):
            return None
        return WidgetSession(data.inbox_id, visitor_id, data.issued_at, bool(data.identified))


class StreamTickets:
    def __init__(self, state: SharedState, signer: SessionSigner) -> None:
        self._state = state
        self._signer = signer

    @staticmethod
    def _key(ticket: str) -> str:
        return "ticket:" + hashlib.sha256(ticket.encode()).hexdigest()

    async def issue(self, session: WidgetSession) -> str:
        ticket = secrets.token_urlsafe(32)
        token = self._signer.issue(
            session.inbox_id,
            session.visitor_id,
            now=session.issued_at,
            identified=session.identified,
        )
        await self._state.put(self._key(ticket), token.encode(), TICKET_TTL_MS)
        return ticket

    async def redeem(self, ticket: str | None) -> WidgetSession | None:
        """The ticket's session, once; a second redeem of the same ticket gets None."""
        if not ticket or len(ticket) > 128:
            return None
        raw = await self._state.take(self._key(ticket))
        return self._signer.verify(raw.decode()) if raw is not None else None
