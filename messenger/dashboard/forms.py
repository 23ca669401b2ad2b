"""The admin forms as typed structs (``URLEncodedBody``), and what they mean to the services.

Fields are strings as the browser sends them: a value the services refuse is shown in the
form, in the admin's language (a 400 with the reason), never as a bare validation error.
A checkbox is present ("1") when ticked and absent otherwise. A field that a form may
repeat (``branch_ids``) arrives as one string when there is only one value.
"""

from __future__ import annotations

from typing import Any

import msgspec

from messenger.errors import InvalidInputError
from messenger.i18n import N_
from messenger.inboxes.settings import WEEKDAYS


def lines(text: str) -> list[str]:
    """A textarea or input of values, one a line or separated by commas."""
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def ids(values: list[str] | str) -> list[int]:
    return [int(v) for v in ([values] if isinstance(values, str) else values) if v.isdigit()]


class InboxCreateForm(msgspec.Struct):
    name: str = ""
    branch_id: str = ""
    allowed_domains: str = ""


class InboxForm(msgspec.Struct):
    """The inbox page's settings form; :meth:`settings` is the document the service checks."""

    name: str = ""
    is_active: str = ""
    branch_id: str = ""
    fallback_branch_id: str = ""
    allowed_domains: str = ""
    privacy_url: str = ""
    privacy_text: str = ""
    always_open: str = ""
    timezone: str = "UTC"
    hours_mon: str = ""
    hours_tue: str = ""
    hours_wed: str = ""
    hours_thu: str = ""
    hours_fri: str = ""
    hours_sat: str = ""
    hours_sun: str = ""
    offline_message: str = ""
    attachments_enabled: str = ""
    attachments_max_kb: str = "10240"
    attachments_types: str = ""
    locale: str = ""
    greeting: str = ""
    color: str = "#2563eb"
    position: str = "right"
    title: str = ""
    identity_required: str = ""
    csat_enabled: str = ""
    prechat_enabled: str = ""
    prechat_name: str = ""
    prechat_email: str = ""
    prechat_phone: str = ""
    prechat_consent: str = ""

    def prechat(self) -> dict[str, Any]:
        fields = []
        for name in ("name", "email", "phone", "consent"):
            choice = getattr(self, f"prechat_{name}")
            if choice in ("optional", "required"):
                fields.append({"name": name, "required": choice == "required"})
        return {"enabled": bool(self.prechat_enabled), "fields": fields}

    assignment_mode: str = "manual"
    mail_transcript_on_resolve: str = ""

    def week(self) -> dict[str, list[dict[str, str]]]:
        week: dict[str, list[dict[str, str]]] = {}
        for day in WEEKDAYS:
            for span in lines(getattr(self, f"hours_{day}")):
                start, sep, end = span.partition("-")
                if not sep:
                    raise InvalidInputError(N_("Working hours: write intervals like 09:00-18:00."))
                week.setdefault(day, []).append({"start": start.strip(), "end": end.strip()})
        return week

    def settings(self) -> dict[str, Any]:
        """The inbox settings document (validated by the service, not here)."""
        week = self.week()
        try:
            max_kb = int(self.attachments_max_kb or "10240")
        except ValueError:
            raise InvalidInputError(N_("The attachment size limit must be a number.")) from None
        return {
            "security": {"allowed_domains": lines(self.allowed_domains)},
            "privacy": {
                "url": self.privacy_url.strip() or None,
                "text": self.privacy_text.strip() or None,
            },
            "working_hours": None
            if self.always_open
            else {"timezone": self.timezone.strip() or "UTC", "week": week},
            "offline": {"message": self.offline_message.strip() or None},
            "attachments": {
                "enabled": bool(self.attachments_enabled),
                "max_bytes": max_kb * 1024,
                "content_types": lines(self.attachments_types),
            },
            "locale": self.locale or None,
            "greeting": self.greeting.strip() or None,
            "appearance": {
                "color": self.color.strip() or "#2563eb",
                "position": self.position,
                "title": self.title.strip() or None,
            },
            "identity": {"required": bool(self.identity_required)},
            "prechat": self.prechat(),
            "csat": {"enabled": bool(self.csat_enabled)},
            "assignment": {"mode": self.assignment_mode or "manual"},
            "mail": {"transcript_on_resolve": bool(self.mail_transcript_on_resolve)},
        }


class RuleForm(msgspec.Struct):
    name: str = ""
    target_branch_id: str = ""
    countries: str = ""
    cities: str = ""
    page_urls: str = ""
    languages: str = ""

    def conditions(self) -> dict[str, list[str]]:
        return {
            "countries": lines(self.countries),
            "cities": lines(self.cities),
            "page_urls": lines(self.page_urls),
            "languages": lines(self.languages),
        }


class BranchCreateForm(msgspec.Struct):
    name: str = ""


class BranchForm(msgspec.Struct):
    name: str | None = None  # absent: the name stays
    is_active: str = ""


class OperatorCreateForm(msgspec.Struct):
    email: str = ""
    name: str = ""
    role: str = "operator"
    branch_ids: list[str] | str = []
    password: str = ""


class OperatorForm(msgspec.Struct):
    name: str | None = None  # absent: the name stays
    capacity: str | None = None  # absent: the capacity stays
    role: str | None = None  # absent: the role stays
    branch_ids: list[str] | str = []
    is_active: str = ""
    password: str = ""


class ApiTokenCreateForm(msgspec.Struct):
    name: str = ""
    branch_ids: list[str] | str = []
