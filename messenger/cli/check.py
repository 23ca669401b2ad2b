"""``messenger check`` (the release checklist) and ``messenger settings`` (what can be set)."""

from __future__ import annotations

import sys

import click

from messenger.checks import as_json as checks_json
from messenger.checks import run_checks
from messenger.cli.common import emit, json_option, load_settings
from messenger.config import VARIABLES, markdown_table
from messenger.i18n import gettext as _
from messenger.i18n import use_locale

MARKS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}


@click.command()
@click.option("--lang", type=click.Choice(["ru", "en"]), help="Language of the reasons.")
@json_option
def check(lang: str | None, as_json: bool) -> None:
    """The release checklist: pass / warn / fail per item; exits 1 on any fail."""
    settings = load_settings()
    with use_locale(lang or settings.default_locale):
        results = run_checks(settings)
        text = "\n".join(f"{MARKS[r.status]}  {r.name}: {r.reason}" for r in results)
        failed = sum(r.status == "fail" for r in results)
        warned = sum(r.status == "warn" for r in results)
        summary = _("%(total)d checks: %(failed)d failed, %(warned)d warnings")
        text += "\n\n" + summary % {"total": len(results), "failed": failed, "warned": warned}
    emit(as_json, checks_json(results), text)
    if failed:
        sys.exit(1)


@click.command("settings")
@json_option
def settings_command(as_json: bool) -> None:
    """Every environment variable with its default and meaning (the README's table).

    Reads the declaration, not the environment: it works with any configuration.
    """
    data = {
        "variables": [
            {
                "name": v.name,
                "attribute": v.attribute,
                "type": v.type,
                "default": v.default,
                "default_text": v.default_text,
                "doc": v.doc,
                "checked_by_messenger_check": v.audit is not None,
            }
            for v in VARIABLES
        ]
    }
    emit(as_json, data, markdown_table().rstrip("\n"))
