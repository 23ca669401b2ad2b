"""The Jinja environment: autoescaping, the i18n extension bound to our catalogs, filters."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Litestar
from litestar.plugins.jinja import JinjaTemplateEngine

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


#: Paths remembered per engine: a list page asks for one per row, the same rows again on
#: every refresh.
URL_CACHE_SIZE = 4096


def template_engine(directory: Path) -> JinjaTemplateEngine:
    """Litestar's Jinja engine over :func:`build_environment`, with a memoised ``url_for``.

    Litestar's ``url_for`` runs ``route_reverse`` on each call (it looks the handler up,
    sorts its paths and routes, type-checks and joins the parameters): a few per cent of a
    list page's CPU with one link per row. The answer depends only on the app's routes,
    fixed after start-up, and on the arguments, so it is remembered (bounded, per engine).
    """
    engine = JinjaTemplateEngine.from_environment(build_environment(directory))

    @lru_cache(maxsize=URL_CACHE_SIZE)
    def reverse(app: Litestar, name: str, parameters: tuple[tuple[str, Any], ...]) -> str:
        return app.route_reverse(name, **dict(parameters))

    def url_for(context: Mapping[str, Any], /, route_name: str, **parameters: Any) -> str:
        app: Litestar = context["request"].app
        try:
            return reverse(app, route_name, tuple(parameters.items()))
        except TypeError:  # an unhashable argument: not remembered
            return app.route_reverse(route_name, **parameters)

    engine.register_template_callable(key="url_for", template_callable=url_for)
    return engine
