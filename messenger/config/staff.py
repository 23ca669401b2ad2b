"""Settings of staff: sign-in, sessions and access of operators and admins.

Each field is one environment variable (:func:`~messenger.config.declaration.variable`);
:class:`messenger.config.settings.Settings` is every section together, in this order.
"""

from __future__ import annotations

from dataclasses import dataclass

from messenger.config import values
from messenger.config.declaration import variable
from messenger.config.widget import WidgetSettings


@dataclass(frozen=True, slots=True)
class StaffSettings(WidgetSettings):
    """Staff: sign-in, sessions and access of operators and admins."""

    # --- staff sessions and sign-in ---------------------------------------------------------
    signin_free_failures: int = variable(
        "MESSENGER_SIGNIN_FREE_FAILURES",
        values.positive_int,
        "5",
        "wrong passwords per account and client address (IPv6 by /64) in the sign-in window "
        "before that pair waits: 1 s, then twice as long after each further failure",
    )
    signin_max_delay_seconds: float = variable(
        "MESSENGER_SIGNIN_MAX_DELAY_SECONDS",
        values.seconds,
        "900",
        "the longest wait between sign-in attempts of one account from one address",
    )
    signin_window_seconds: float = variable(
        "MESSENGER_SIGNIN_WINDOW_SECONDS",
        values.seconds,
        "900",
        "how long sign-in attempts and failures are counted",
    )
    signin_challenge_after: int = variable(
        "MESSENGER_SIGNIN_CHALLENGE_AFTER",
        values.non_negative_int,
        "20",
        "sign-in attempts per account (from every address) or per address (to every account) "
        "in the window after which each attempt needs a proof-of-work (never a lock-out); "
        "`0` = always",
    )
    staff_access_check_seconds: float = variable(
        "MESSENGER_STAFF_ACCESS_CHECK_SECONDS",
        values.seconds,
        "3",
        "how often an open staff stream re-reads its user (deactivation, new password, role or "
        "branch change end it); it is also re-checked on every event",
    )
