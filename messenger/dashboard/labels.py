"""Staff-facing names of the domain's closed vocabularies, in the active language."""

from __future__ import annotations

from collections.abc import Mapping

from messenger.i18n import gettext as _

# The msgids are written out so that extraction puts every one of them in the catalogs.
STATUS = {
    "open": lambda: _("Open"),
    "pending": lambda: _("Pending"),
    "resolved": lambda: _("Resolved"),
    "closed": lambda: _("Closed"),
}
PRIORITY = {
    "low": lambda: _("Low"),
    "normal": lambda: _("Normal"),
    "high": lambda: _("High"),
    "urgent": lambda: _("Urgent"),
}
ROLE = {
    "operator": lambda: _("Operator"),
    "admin": lambda: _("Administrator"),
}
VIEW = {
    "mine": lambda: _("Mine"),
    "unassigned": lambda: _("Unassigned"),
    "all": lambda: _("All"),
}
SAVED_REPLY_SCOPE = {
    "personal": lambda: _("Only me"),
    "branch": lambda: _("A branch"),
    "global": lambda: _("Everyone"),
}


def label(vocabulary: Mapping[str, object], value: object) -> str:
    key = getattr(value, "value", value)
    factory = vocabulary.get(str(key))
    return factory() if callable(factory) else str(key)


def status_label(value: object) -> str:
    return label(STATUS, value)


def priority_label(value: object) -> str:
    return label(PRIORITY, value)


def role_label(value: object) -> str:
    return label(ROLE, value)


def view_label(value: object) -> str:
    return label(VIEW, value)


def saved_reply_scope_label(value: object) -> str:
    return label(SAVED_REPLY_SCOPE, value)


def event_text(body: str, author_name: str | None) -> str:
    """The timeline line of a system event message (stored as a stable code)."""
    if body.startswith("status:"):
        return _("Status changed to %(status)s") % {"status": status_label(body[7:])}
    if body == "offline_form":
        return _("Left through the offline form: nobody was online")
    if body == "transferred":
        return _("The conversation was transferred")
    if body == "assigned":
        return _("%(name)s joined the conversation") % {"name": author_name or "?"}
    return body
