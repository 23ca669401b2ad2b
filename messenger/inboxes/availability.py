"""The offline decision: may a visitor expect a live answer right now?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from messenger.inboxes.settings import InboxSettings
from messenger.presence import Presence

Reason = Literal["online", "outside_hours", "nobody_online"]


@dataclass(frozen=True, slots=True)
class Availability:
    online: bool
    reason: Reason
    offline_message: str | None


async def decide_availability(
    settings: InboxSettings,
    branch_id: int | None,
    presence: Presence,
    now: datetime,
) -> Availability:
    """Offline when outside the inbox's working hours (in its time zone), or when no
    operator of the target branch has the dashboard open; online otherwise."""
    offline_message = settings.offline.message
    if settings.working_hours is not None and not settings.working_hours.is_open_at(now):
        return Availability(False, "outside_hours", offline_message)
    if branch_id is None or not await presence.online_user_ids(branch_id):
        return Availability(False, "nobody_online", offline_message)
    return Availability(True, "online", None)
