"""Short-lived signed download links for attachments (no long-lived secret in a URL)."""

from __future__ import annotations

import hashlib
import hmac
import time
from uuid import UUID

LINK_TTL_SECONDS = 3600


class AttachmentLinks:
    def __init__(self, secret: str) -> None:
        self._key = hmac.new(
            secret.encode(), b"messenger/attachment-link/v1", hashlib.sha256
        ).digest()

    def _sig(self, attachment_id: UUID | str, expires: int) -> str:
        message = f"{attachment_id}:{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def url(self, attachment_id: UUID | str, now: float | None = None) -> str:
        # Rounded to the hour so that the same message renders the same URL for a while.
        base = int(now if now is not None else time.time())
        expires = base - base % LINK_TTL_SECONDS + 2 * LINK_TTL_SECONDS
        signature = self._sig(attachment_id, expires)
        return f"/api/widget/attachments/{attachment_id}?exp={expires}&sig={signature}"

    def verify(
        self, attachment_id: UUID | str, expires: int, sig: str, now: float | None = None
    ) -> bool:
        current = now if now is not None else time.time()
        if expires < current or expires > current + 3 * LINK_TTL_SECONDS:
            return False
        return hmac.compare_digest(self._sig(attachment_id, expires), sig)
