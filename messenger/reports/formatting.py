"""Durations and averages as the Reports page prints them, in the reader's language."""

from __future__ import annotations

from messenger.i18n import gettext as _


def format_duration(seconds: float | None) -> str:
    """``None`` → "—"; 42 → "42 s"; 125 → "2 min 5 s"; 7260 → "2 h 1 min"."""
    if seconds is None:
        return "—"
    total = round(seconds)
    if total < 60:
        return _("%(s)d s") % {"s": total}
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return _("%(m)d min %(s)d s") % {"m": minutes, "s": secs}
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    days, hours = divmod(hours, 24)
    return _("%(d)d d %(h)d h") % {"d": days, "h": hours}


def format_average(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def weekday_names() -> list[str]:
    """Monday first (ISO), short, in the reader's language."""
    return [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]
