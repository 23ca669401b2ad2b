"""The one settings module: every ``MESSENGER_*`` variable (and the two URLs), typed, read once.

Each variable is declared once, as a field of :class:`Settings` in
:mod:`messenger.config.settings` (name, type, parser and constraint, default, documentation,
release-checklist audit); the parsers are in :mod:`messenger.config.values`, the audits in
:mod:`messenger.config.audit`. A bad value stops start-up with a :class:`SettingsError` that
names the variable and says what is wrong. Checks that need the database
(``MESSENGER_DEFAULT_BRANCH_ID`` naming an existing branch) run at start-up, see
:mod:`messenger.startup`.
"""

from messenger.config.audit import CheckResult
from messenger.config.declaration import Variable
from messenger.config.derived import markdown_table, settings_audit
from messenger.config.settings import (
    DEFAULT_PUBLIC_URL,
    VARIABLES,
    Settings,
    get_settings,
)
from messenger.config.values import Rate, SettingsError, parse_rate

__all__ = [
    "DEFAULT_PUBLIC_URL",
    "VARIABLES",
    "CheckResult",
    "Rate",
    "Settings",
    "SettingsError",
    "Variable",
    "get_settings",
    "markdown_table",
    "parse_rate",
    "settings_audit",
]
