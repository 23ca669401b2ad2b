"""What is derived from the declaration: ``messenger check``'s settings items and the
README's configuration table."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from messenger.config import audit as audits
from messenger.config.audit import AuditContext, CheckResult
from messenger.config.settings import VARIABLES, Settings

#: ``messenger check`` items that weigh several variables against each other.
CROSS_AUDITS: tuple[Callable[[AuditContext], CheckResult], ...] = (audits.widget_rates_consistent,)


def settings_audit(settings: Settings, env: Mapping[str, str]) -> list[CheckResult]:
    """The settings items of ``messenger check``: each declared audit, then the cross audits."""
    ctx = AuditContext(settings, env)
    results = [
        declared.audit(getattr(settings, declared.attribute), declared.name, ctx)
        for declared in VARIABLES
        if declared.audit is not None
    ]
    return results + [cross(ctx) for cross in CROSS_AUDITS]


def markdown_table() -> str:
    """The README's configuration table, one row per declared variable."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{v.name}` | {v.default_text} | {v.doc} |" for v in VARIABLES]
    return "\n".join(rows) + "\n"
