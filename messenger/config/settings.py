"""The declaration of every setting, and the one settings object read from it.

Each field of :class:`Settings` is one environment variable, declared once with
:func:`~messenger.config.declaration.variable` in a section of its own module
(:mod:`~messenger.config.service`, :mod:`~messenger.config.widget`,
:mod:`~messenger.config.staff`, :mod:`~messenger.config.operators`,
:mod:`~messenger.config.integrations`, :mod:`~messenger.config.privacy`; :class:`Settings` inherits them all, in that order): its name, its type (the annotation) and parser (which is the constraint),
its default as written in the environment, its documentation, and the release-checklist
audit that weighs its value. From that one declaration:

- :meth:`Settings.from_env` reads and validates the environment;
- :func:`messenger.config.derived.markdown_table` writes the README's configuration table (``messenger settings``;
  ``tests/unit/test_docs.py`` compares the README with it);
- ``messenger check`` derives its settings items (:func:`messenger.config.derived.settings_audit`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import Any

from messenger.config import values
from messenger.config.declaration import Variable
from messenger.config.privacy import PrivacySettings
from messenger.config.service import DEFAULT_PUBLIC_URL

__all__ = ["DEFAULT_PUBLIC_URL", "VARIABLES", "Settings", "get_settings"]


@dataclass(frozen=True, slots=True)
class Settings(PrivacySettings):
    """Every setting of the process. Build with :meth:`from_env`; never mutate."""

    #: The ``warn_at_default`` variables that were left unset (``messenger check`` warns).
    defaults_used: frozenset[str] = field(default_factory=frozenset)

    @property
    def uses_redis(self) -> bool:
        """Shared state in Redis (``REDIS_URL`` or sentinels), not in process memory."""
        return self.redis_url is not None or bool(self.redis_sentinels)

    @property
    def embedded(self) -> bool:
        """True when running without PostgreSQL (the one-command local demo)."""
        return self.database_url is None or self.database_url.startswith("sqlite")

    @property
    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'messenger.sqlite3').resolve()}"

    def require_secret_key(self) -> str:
        """The key for CSRF tokens and signatures; every process of a deployment must share it.

        Embedded mode makes one on first use and keeps it in the data directory; with
        PostgreSQL (a real deployment, maybe several processes) it must be configured.
        """
        if self.secret_key is not None:
            return self.secret_key
        if not self.embedded:
            raise values.SettingsError(
                "MESSENGER_SECRET_KEY",
                "is required with DATABASE_URL (all processes must share it); "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
            )
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every variable; raise :class:`SettingsError` on the first bad one."""
        env = os.environ if env is None else env
        read: dict[str, Any] = {}
        defaults: set[str] = set()
        for declared in VARIABLES:
            value, is_default = declared.read(env)
            if declared.constraint is not None:
                declared.constraint(value, read, declared.name)
            read[declared.attribute] = value
            if is_default and declared.warn_at_default:
                defaults.add(declared.name)
        return cls(**read, defaults_used=frozenset(defaults))


#: Every variable, in declaration order (the README's order).
VARIABLES: tuple[Variable, ...] = tuple(
    replace(f.metadata["variable"], attribute=f.name, type=str(f.type))
    for f in fields(Settings)
    if "variable" in f.metadata
)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings.from_env()
