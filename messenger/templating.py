"""The Jinja environment: autoescaping, the i18n extension bound to our catalogs, filters."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import available_timezones

from jinja2 import Environment, FileSystemLoader, select_autoescape

from messenger import i18n
from messenger.dashboard import labels


def build_environment(directory: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # The i18n extension adds this method to the environment at run time; Jinja's types
    # do not declare it.
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        datetime=i18n.format_datetime,
        time=i18n.format_time,
        relative=i18n.format_relative,
        status_label=labels.status_label,
        priority_label=labels.priority_label,
        role_label=labels.role_label,
        view_label=labels.view_label,
        label_name=lambda label: label.name_in(i18n.current_locale()),
        saved_reply_scope_label=labels.saved_reply_scope_label,
    )
    env.globals.update(
        current_locale=i18n.current_locale,
        LANGUAGE_NAMES=i18n.LANGUAGE_NAMES,
        event_text=labels.event_text,
        timezone_names=lambda: sorted(available_timezones()),
    )
    return env
