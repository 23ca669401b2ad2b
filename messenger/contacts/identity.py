"""Signed visitor identity: ``identity_hash = hex(HMAC-SHA256(inbox identity secret,
identifier))``, computed by the host site's server. The secret never leaves the server
(not in a response to the widget, not in a log line)."""

from __future__ import annotations

import hashlib
import hmac

from messenger.errors import DomainError
from messenger.i18n import N_


class IdentityInvalidError(DomainError):
    status_code = 401
    code = "identity_invalid"


class IdentityRequiredError(DomainError):
    status_code = 401
    code = "identity_required"


def identity_hash(secret: str, identifier: str) -> str:
    """What the host site computes (also used by the demo page's server side)."""
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def check_identity(secret: str, identifier: str, given_hash: str) -> None:
    """Nothing, or :class:`IdentityInvalidError`; compared in constant time."""
    expected = identity_hash(secret, identifier)
    if not hmac.compare_digest(expected.encode(), given_hash.strip().lower().encode()):
        raise IdentityInvalidError(
            N_(
                "The visitor identity's hash does not match: sign the identifier with the "
                "inbox's current identity secret."
            )
        )


def identity_required() -> IdentityRequiredError:
    return IdentityRequiredError(
        N_("This chat is for signed-in visitors only: the page must identify the visitor.")
    )
