"""The settings of the visitor's data: retention of conversations, and of the audit log.

A section of the declaration: :class:`~messenger.config.settings.Settings` inherits every
section (service, widget, staff, operators, integrations, privacy), one declaration per
variable, each module short.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from messenger.config import audit as audits
from messenger.config import values
from messenger.config.declaration import variable
from messenger.config.integrations import IntegrationSettings
from messenger.config.values import SettingsError

RetentionMode = Literal["anonymise", "delete"]


def retention_mode(raw: str, name: str) -> RetentionMode:
    value = raw.strip().lower()
    if value == "anonymise":
        return "anonymise"
    if value == "delete":
        return "delete"
    raise SettingsError(name, f"{raw!r} is not a retention mode; use anonymise or delete")


@dataclass(frozen=True, slots=True)
class PrivacySettings(IntegrationSettings):
    retention_days: int | None = variable(
        "MESSENGER_RETENTION_DAYS",
        values.positive_int,
        None,
        "conversations with no activity for this many days are anonymised or deleted "
        "(`MESSENGER_RETENTION_MODE`) by the worker (one batch every 5 minutes) and by "
        "`messenger retention run`",
        default_doc="unset → kept forever",
        audit=audits.retention,
    )
    retention_mode: RetentionMode = variable(  # noqa: RUF009 - the field specifier
        "MESSENGER_RETENTION_MODE",
        retention_mode,
        "anonymise",
        "`anonymise`: visitor-written text, files and contact fields go, the conversation's "
        "times, status and rating stay for statistics; `delete`: the conversation goes",
    )
    retention_batch_size: int = variable(
        "MESSENGER_RETENTION_BATCH_SIZE",
        values.int_between(1, 10000),
        "500",
        "conversations anonymised or deleted per transaction by retention: short "
        "transactions, no long table locks",
    )
    audit_retention_days: int = variable(
        "MESSENGER_AUDIT_RETENTION_DAYS",
        values.positive_int,
        "365",
        "audit log entries older than this many days are deleted by the worker",
    )
