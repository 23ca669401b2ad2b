"""Settings of operators' daily tools: auto-assignment, snooze wake-up.

Each field is one environment variable (:func:`~messenger.config.declaration.variable`);
:class:`messenger.config.settings.Settings` is every section together, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from messenger.config import values
from messenger.config.declaration import variable
from messenger.config.staff import StaffSettings


@dataclass(frozen=True, slots=True)
class OperatorSettings(StaffSettings):
    """Settings of operators' daily tools: auto-assignment, snooze wake-up."""

    assignment_offline_minutes: int = variable(
        "MESSENGER_ASSIGNMENT_OFFLINE_MINUTES",
        values.positive_int,
        "10",
        "minutes offline after which an operator's conversations awaiting an answer are unassigned",
    )
    day_ticker_seconds: float = variable(
        "MESSENGER_DAY_TICKER_SECONDS",
        values.seconds,
        "30",
        "how often each process wakes due snoozes and unassigns offline operators' conversations",
    )
    report_missed_after_minutes: int = variable(
        "MESSENGER_REPORT_MISSED_AFTER_MINUTES",
        values.positive_int,
        "15",
        "reports count a conversation as missed when no operator replied within these minutes",
    )
