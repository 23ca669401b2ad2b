"""The typed shape of ``Inbox.settings``; every write is validated and normalised here."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from sqlalchemy import event

from messenger.db.models import Inbox
from messenger.errors import InvalidInputError, Message, invalid_field, validation_reason
from messenger.i18n import N_
from messenger.inboxes.allowlist import DomainPatternError, normalize_domain_pattern
from messenger.inboxes.visitor_settings import (
    CsatSettings,
    IdentitySettings,
    PrechatSettings,
    check_prechat,
)

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$", re.ASCII)

#: The largest file an inbox may accept (its `attachments.max_bytes` is at most this).
MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024

#: Types never accepted as uploads, whatever an admin lists: they can carry active content.
FORBIDDEN_CONTENT_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "text/xml",
        "application/xml",
    }
)
DEFAULT_CONTENT_TYPES = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
]

ShortText = Annotated[str, msgspec.Meta(max_length=2000)]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=False):
    pass


class SecuritySettings(_Strict):
    allowed_domains: list[Annotated[str, msgspec.Meta(max_length=253)]] = []


class PrivacySettings(_Strict):
    """Each field, when set, overrides ``MESSENGER_PRIVACY_URL`` / ``MESSENGER_PRIVACY_TEXT``."""

    url: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    text: ShortText | None = None


class Interval(_Strict):
    start: str
    end: str


class WorkingHours(_Strict):
    """Weekly schedule in ``timezone``; a day missing from ``week`` is a day off."""

    timezone: str = "UTC"
    week: dict[Weekday, list[Interval]] = {}

    def is_open_at(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone))
        day = WEEKDAYS[local.weekday()]
        now = local.time()
        for interval in self.week.get(day, []):
            start = _parse_hhmm(interval.start)
            if interval.end == "24:00":
                if now >= start:
                    return True
            elif start <= now < _parse_hhmm(interval.end):
                return True
        return False


class OfflineSettings(_Strict):
    message: ShortText | None = None


class AttachmentSettings(_Strict):
    enabled: bool = False
    max_bytes: Annotated[int, msgspec.Meta(gt=0, le=MAX_ATTACHMENT_BYTES)] = 10 * 1024 * 1024
    content_types: list[Annotated[str, msgspec.Meta(max_length=127)]] = msgspec.field(
        default_factory=lambda: list(DEFAULT_CONTENT_TYPES)
    )


class AppearanceSettings(_Strict):
    color: Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")] = "#2563eb"
    position: Literal["right", "left"] = "right"
    title: Annotated[str, msgspec.Meta(max_length=100)] | None = None


class MailSettings(_Strict):
    # Mail the visitor the conversation's transcript when it is resolved (needs their e-mail).
    transcript_on_resolve: bool = False


#: How a new conversation of the inbox finds its operator (messenger/conversations/assignment.py).
AssignmentMode = Literal["manual", "round_robin", "least_busy"]
ASSIGNMENT_MODES: tuple[AssignmentMode, ...] = ("manual", "round_robin", "least_busy")


class AssignmentSettings(_Strict):
    mode: AssignmentMode = "manual"


class InboxSettings(_Strict):
    security: SecuritySettings = msgspec.field(default_factory=SecuritySettings)
    privacy: PrivacySettings = msgspec.field(default_factory=PrivacySettings)
    working_hours: WorkingHours | None = None  # None: always within hours
    offline: OfflineSettings = msgspec.field(default_factory=OfflineSettings)
    attachments: AttachmentSettings = msgspec.field(default_factory=AttachmentSettings)
    locale: Literal["ru", "en"] | None = None  # None: the visitor's browser decides
    greeting: ShortText | None = None
    appearance: AppearanceSettings = msgspec.field(default_factory=AppearanceSettings)
    mail: MailSettings = msgspec.field(default_factory=MailSettings)
    identity: IdentitySettings = msgspec.field(default_factory=IdentitySettings)
    prechat: PrechatSettings = msgspec.field(default_factory=PrechatSettings)
    csat: CsatSettings = msgspec.field(default_factory=CsatSettings)
    assignment: AssignmentSettings = msgspec.field(default_factory=AssignmentSettings)


def _parse_hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _check(settings: InboxSettings) -> InboxSettings:
    """Rules the struct types cannot say; normalises domains and content types."""
    domains: list[str] = []
    for raw in settings.security.allowed_domains:
        try:
            pattern = normalize_domain_pattern(raw)
        except DomainPatternError as exc:
            raise invalid_field("security.allowed_domains", exc.reason) from None
        if pattern not in domains:
            domains.append(pattern)
    settings.security.allowed_domains = domains
    if settings.working_hours is not None:
        _check_working_hours(settings.working_hours)
    types: list[str] = []
    for raw in settings.attachments.content_types:
        content_type = raw.strip().lower()
        if not re.fullmatch(
            r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9*][a-z0-9!#$&^_.+-]*", content_type
        ):
            raise invalid_field(
                "attachments.content_types",
                Message(N_("%(value)r is not a media type"), {"value": raw}),
            )
        if content_type in FORBIDDEN_CONTENT_TYPES:
            raise invalid_field(
                "attachments.content_types",
                Message(
                    N_("%(value)s can carry active content and is never accepted"),
                    {"value": content_type},
                ),
            )
        if content_type not in types:
            types.append(content_type)
    settings.attachments.content_types = types
    check_prechat(settings.prechat)
    if settings.privacy.url and not settings.privacy.url.startswith(("https://", "http://")):
        raise invalid_field("privacy.url", Message(N_("must be an http(s) URL")))
    return settings


def _check_working_hours(hours: WorkingHours) -> None:
    try:
        ZoneInfo(hours.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid_field(
            "working_hours.timezone",
            Message(N_("unknown time zone %(value)r"), {"value": hours.timezone}),
        ) from None
    for day, intervals in hours.week.items():
        field = f"working_hours.week.{day}"
        for interval in intervals:
            for value in (interval.start, interval.end):
                if not _HHMM.match(value):
                    reason = Message(N_("%(value)r is not a HH:MM time"), {"value": value})
                    raise invalid_field(field, reason)
            if interval.start == "24:00":
                raise invalid_field(field, Message(N_("24:00 can only end an interval")))
            if interval.end != "24:00" and _parse_hhmm(interval.end) <= _parse_hhmm(interval.start):
                span = f"{interval.start}-{interval.end}"
                reason = Message(N_("%(value)s ends before it starts"), {"value": span})
                raise invalid_field(field, reason)


def parse_settings(value: Any) -> InboxSettings:
    """Validate a settings document (dict, JSON bytes/str or struct) into :class:`InboxSettings`."""
    try:
        if isinstance(value, InboxSettings):
            settings = msgspec.convert(msgspec.to_builtins(value), InboxSettings)
        elif isinstance(value, bytes | str):
            settings = msgspec.json.decode(value, type=InboxSettings)
        else:
            settings = msgspec.convert(value or {}, InboxSettings)
    except msgspec.ValidationError as exc:
        field, reason = validation_reason(exc)
        raise invalid_field(field or "inbox settings", reason) from None
    except msgspec.DecodeError:
        raise InvalidInputError(N_("The inbox settings are not valid JSON.")) from None
    return _check(settings)


def normalize_settings(value: Any) -> dict[str, Any]:
    """The canonical JSON document stored in ``Inbox.settings``."""
    document: dict[str, Any] = msgspec.to_builtins(parse_settings(value))
    return document


@event.listens_for(Inbox.settings, "set", retval=True)
def _validated_on_write(_target: Inbox, value: Any, _old: Any, _initiator: Any) -> dict[str, Any]:
    """Every write of ``Inbox.settings`` goes through the typed structs (and is normalised).

    Registered here, by the domain rule, so the model imports no domain code.
    """
    return normalize_settings(value)
