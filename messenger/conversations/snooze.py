"""Snooze: a conversation is *pending until* a moment, then open again.

Snoozing sets status ``pending`` and ``snoozed_until``. The conversation wakes (status
``open``, no ``snoozed_until``) when :func:`wake_snoozed` runs after that moment, or at once
when the visitor writes (the widget's send clears it with the status), or on any other
status change or operator reply (``ConversationService``).

:func:`wake_snoozed` is one ``UPDATE … WHERE snoozed_until <= now RETURNING``: several
processes may run it at once, each conversation wakes in exactly one of them, and the
events are published after the caller's commit.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.rules import can_see
from messenger.db.events import DomainEvent, about, record
from messenger.db.models import Conversation, ConversationStatus, User
from messenger.errors import InvalidInputError, NotFoundError
from messenger.i18n import N_

PRESETS = ("hour", "tomorrow", "next_week", "custom")
#: The hour "tomorrow morning" and "next week" wake at, in the operator's time zone.
MORNING = time(9, 0)
LONGEST = timedelta(days=366)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def snooze_time(preset: str, now: datetime, timezone: str, custom: str = "") -> datetime:
    """When a snooze of ``preset`` ends: in an hour; tomorrow at 09:00 or next Monday at
    09:00 in the operator's time zone; or the ``custom`` local date and time
    (``YYYY-MM-DDTHH:MM``, as a datetime-local field sends it)."""
    zone = _zone(timezone)
    local = now.astimezone(zone)
    if preset == "hour":
        return now + timedelta(hours=1)
    if preset == "tomorrow":
        day = local.date() + timedelta(days=1)
        return datetime.combine(day, MORNING, tzinfo=zone)
    if preset == "next_week":
        day = local.date() + timedelta(days=7 - local.weekday())
        return datetime.combine(day, MORNING, tzinfo=zone)
    if preset == "custom":
        try:
            moment = datetime.fromisoformat(custom.strip())
        except ValueError:
            raise InvalidInputError(N_("Choose a date and time to snooze until.")) from None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
    raise InvalidInputError(N_("Unknown snooze choice."))


async def snooze(
    db: AsyncSession, conversation: Conversation, actor: User, until: datetime, now: datetime
) -> Conversation:
    """Pending until ``until`` (in the future, within a year)."""
    if not can_see(actor, conversation):
        raise NotFoundError(N_("No such conversation."))
    if until <= now:
        raise InvalidInputError(N_("A snooze must end in the future."))
    if until > now + LONGEST:
        raise InvalidInputError(N_("A snooze may last a year at most."))
    conversation.status = ConversationStatus.PENDING
    conversation.snoozed_until = until
    await db.flush()
    record(
        db,
        about(
            conversation,
            "status",
            {"conversation_id": str(conversation.id), "status": conversation.status.value},
        ),
    )
    return conversation


async def wake_snoozed(db: AsyncSession, now: datetime) -> int:
    """Open every snoozed conversation whose time has come; how many woke. Idempotent,
    safe with several processes (one conditional UPDATE)."""
    rows = await db.execute(
        update(Conversation)
        .where(
            Conversation.status == ConversationStatus.PENDING,
            Conversation.snoozed_until.is_not(None),
            Conversation.snoozed_until <= now,
        )
        .values(status=ConversationStatus.OPEN, snoozed_until=None, updated_at=now)
        .returning(Conversation.id, Conversation.visitor_id, Conversation.branch_id)
        .execution_options(synchronize_session=False)
    )
    woke = 0
    for conversation_id, visitor_id, branch_id in rows.all():
        woke += 1
        data = {"conversation_id": str(conversation_id), "status": "open"}
        record(db, DomainEvent("status", conversation_id, visitor_id, branch_id, data=data))
    return woke
