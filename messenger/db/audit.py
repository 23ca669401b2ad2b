"""Audit entries: recorded on the session of the change, so they commit (or roll back) with it.

Who acts is put on the session once — the dashboard when it loads the signed-in user
(:func:`set_actor`, with the client's address), the command line as ``cli`` — and every
service that changes configuration or access calls :func:`record` with what it changed. A
session without an actor records ``system`` (the worker's retention, for example).

Secrets never reach the table: :func:`redact` replaces the value of every key that names
one (tokens, identity secrets, webhook secrets, passwords, hashes) however deep it sits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from messenger.db.events import AnySession
from messenger.db.models import AuditEntry

_ACTOR = "messenger.audit.actor"
REDACTED = "[redacted]"
#: A key is secret when its lower-cased name contains one of these words.
SECRET_WORDS = ("token", "secret", "password", "hash", "signature", "authorization", "cookie")


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None
    email: str
    ip: str | None = None


CLI = Actor(None, "cli")
SYSTEM = Actor(None, "system")


def set_actor(session: AnySession, actor: Actor) -> None:
    session.info[_ACTOR] = actor


def actor_of(session: AnySession) -> Actor:
    actor = session.info.get(_ACTOR)
    return actor if isinstance(actor, Actor) else SYSTEM


def is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)


def _harmless(value: Any) -> bool:
    return value is None or value == "" or isinstance(value, bool)


def redact(value: Any) -> Any:
    """A JSON-able copy of ``value`` with every secret-named key's value replaced."""
    if isinstance(value, dict):
        return {
            # A flag (``password_changed: true``) says nothing secret; any other value does.
            str(k): (REDACTED if is_secret(str(k)) and not _harmless(v) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{"before": …, "after": …}`` of the keys that changed (a nested dict key by key)."""
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            old[key] = before.get(key)
            new[key] = after.get(key)
    return {"before": old, "after": new}


def record(
    session: AnySession,
    action: str,
    target: str | None = None,
    changes: dict[str, Any] | None = None,
    *,
    actor: Actor | None = None,
) -> AuditEntry:
    """Add an entry to the session's transaction (no flush, no commit)."""
    who = actor or actor_of(session)
    entry = AuditEntry(
        at=datetime.now(UTC),
        actor_id=who.user_id,
        actor_email=who.email[:320],
        ip=who.ip[:64] if who.ip else None,
        action=action,
        target=target[:200] if target else None,
        changes=redact(changes or {}),
    )
    session.add(entry)
    return entry
