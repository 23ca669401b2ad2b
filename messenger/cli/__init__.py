"""The ``messenger`` command line: migrations, serving, and the admin chores of setting up.

Every command exits non-zero with a one-line message on bad input and writes nothing
half-way (each command's writes are one transaction). ``--json`` prints a JSON document
for scripts instead of the human text.

One module per command group: ``db`` (migrations), ``serve``, ``admin`` (branch, user,
inbox), ``api_tokens`` (api-token), ``demo``, ``check`` (the release checklist and ``settings``), ``cleanup`` (unsent uploads), ``privacy`` (visitor, retention), ``audit``; ``common`` holds what
they share. The CLI may import any part of the application; nothing imports the CLI.
"""

from __future__ import annotations

import click

from messenger.cli.admin import branch_group, inbox_group, user_group
from messenger.cli.api_tokens import api_token_group
from messenger.cli.audit import audit_group
from messenger.cli.check import check, settings_command
from messenger.cli.cleanup import cleanup
from messenger.cli.db import db_group
from messenger.cli.demo import demo
from messenger.cli.privacy import retention_group, visitor_group
from messenger.cli.serve import serve
from messenger.cli.worker import webhook_group, worker

# The demo's names, for scripts and tests that knew them here; they live in messenger.demo.seed.
from messenger.demo.seed import (
    DEMO_ADMIN_EMAIL,
    DEMO_BRANCH,
    DEMO_DOMAINS,
    DEMO_INBOX,
    DEMO_OPERATOR_EMAIL,
)

__all__ = [
    "DEMO_ADMIN_EMAIL",
    "DEMO_BRANCH",
    "DEMO_DOMAINS",
    "DEMO_INBOX",
    "DEMO_OPERATOR_EMAIL",
    "main",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="messenger")
def main() -> None:
    """Messenger: the live chat of the CRM."""


for command in (
    db_group,
    check,
    settings_command,
    serve,
    branch_group,
    user_group,
    inbox_group,
    api_token_group,
    demo,
    cleanup,
    worker,
    webhook_group,
    visitor_group,
    retention_group,
    audit_group,
):
    main.add_command(command)
