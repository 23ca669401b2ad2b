"""How a setting is declared: :class:`Variable` (everything known about one environment
variable) and :func:`variable`, the field specifier of :class:`~messenger.config.Settings`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from messenger.config import audit as audits

Parser = Callable[[str, str], Any]
Constraint = Callable[[Any, Mapping[str, Any], str], None]


@dataclass(frozen=True, slots=True)
class Variable:
    """One environment variable: everything known about it, in one place."""

    name: str
    parse: Parser
    #: The default as it would be written in the environment; None: unset.
    default: str | None
    #: The README's "meaning" column.
    doc: str
    #: The README's "default" column when the default text alone does not say it.
    default_doc: str | None = None
    #: A rule against the variables declared before it: (value, earlier values, name).
    constraint: Constraint | None = None
    #: The ``messenger check`` item for this variable: (value, name, context) -> CheckResult.
    audit: audits.Audit | None = None
    #: ``messenger check`` warns when the variable is left at its default.
    warn_at_default: bool = False
    #: False: an empty value is a value (``MESSENGER_ENABLED=`` switches off), not "unset".
    blank_is_unset: bool = True
    #: The :class:`Settings` attribute (filled in from the field).
    attribute: str = ""
    #: The Python type of the value (filled in from the field's annotation).
    type: str = ""

    @property
    def default_value(self) -> Any:
        return None if self.default is None else self.parse(self.default, self.name)

    @property
    def default_text(self) -> str:
        """The default as the README shows it."""
        if self.default_doc is not None:
            return self.default_doc
        if self.default is None:
            return "unset"
        return f"`{self.default}`" if self.default else "empty"

    def read(self, env: Mapping[str, str]) -> tuple[Any, bool]:
        """The value in ``env`` and whether the default was used instead."""
        raw = env.get(self.name)
        if raw is not None and (raw.strip() or not self.blank_is_unset):
            return self.parse(raw.strip(), self.name), False
        return self.default_value, True


def variable(name: str, parse: Parser, default: str | None, doc: str, **more: Any) -> Any:
    """Declare the :class:`Settings` field read from the environment variable ``name``."""
    declared = Variable(name, parse, default, doc, **more)
    return field(default=declared.default_value, metadata={"variable": declared})
