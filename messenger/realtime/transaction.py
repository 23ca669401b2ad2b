"""The one transaction rule: services never commit; the unit of work does, then publishes.

* In a request, :func:`commit_then_publish` is the database plugin's ``before_send``
  handler: when the response starts, a 2xx or 3xx answer commits (redirects too: the
  dashboard's forms answer 303), anything else rolls back. After a successful commit it
  publishes the domain events the transaction recorded (:mod:`messenger.db.events`).
* Outside a request (a stream's own short transactions, the CLI), :func:`transaction`
  does the same around a block.

advanced-alchemy's ``autocommit_include_redirect`` handler decides commit or rollback the
same way, but it cannot publish and it swallows a failed commit (the client would get a
2xx for a write that was lost). Here a failed commit turns the answer into a 503 with a
JSON body instead, and the recorded events are dropped with the rolled-back transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

# The plugin keeps the request's session in the scope under its own namespace; these two
# helpers are how its own handlers reach it.
from advanced_alchemy.extensions.litestar._utils import delete_aa_scope_state, get_aa_scope_state
from advanced_alchemy.extensions.litestar.plugins.init.config.common import (
    SESSION_SCOPE_KEY,
    SESSION_TERMINUS_ASGI_EVENTS,
)
from litestar.types import Message, Scope
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.db.events import DomainEvent, take_committed, take_committed_inbox_changes
from messenger.realtime.publisher import Publisher

log = logging.getLogger("messenger.transaction")

_COMMIT_FAILED = "messenger_commit_failed"
_FAILED_BODY = json.dumps(
    {"error": "unavailable", "detail": "The change could not be saved; please try again."}
).encode()


async def _publish(publisher: Publisher, session: AsyncSession) -> None:
    if take_committed_inbox_changes(session):
        try:
            await publisher.announce_inbox_changes()
        except Exception as exc:
            # The caches' MAX_AGE_SECONDS still bounds how long they can be stale.
            log.warning("announcing an inbox change failed (%s)", type(exc).__name__)
    await publish_committed(publisher, take_committed(session))


async def publish_committed(publisher: Publisher, events: list[DomainEvent]) -> None:
    """Publish events of a committed write; a failure is logged, never raised."""
    if not events:
        return
    try:
        await publisher.publish(events)
    except Exception as exc:
        # Committed is committed: open streams catch up from the database by id.
        log.warning("publishing %d events failed (%s)", len(events), type(exc).__name__)


def commit_then_publish(
    publisher: Publisher, session_scope_key: str = SESSION_SCOPE_KEY
) -> Callable[[Message, Scope], Awaitable[None]]:
    async def handler(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.body" and scope.get("state", {}).get(_COMMIT_FAILED):
            message["body"] = _FAILED_BODY
            message["more_body"] = False
            return
        session: AsyncSession | None = get_aa_scope_state(scope, session_scope_key)
        if session is None:
            return
        try:
            if message["type"] == "http.response.start":
                if 200 <= message["status"] < 400:
                    await _commit(session, message, scope)
                else:
                    await session.rollback()
        finally:
            if message["type"] in SESSION_TERMINUS_ASGI_EVENTS:
                try:
                    await session.close()
                except Exception:
                    log.debug("closing the session failed", exc_info=True)
                delete_aa_scope_state(scope, session_scope_key)

    async def _commit(session: AsyncSession, message: Any, scope: Scope) -> None:
        try:
            await session.commit()
        except Exception:
            log.exception("commit failed on %s %s", scope.get("method"), scope.get("path"))
            try:
                await session.rollback()
            except Exception:
                log.debug("rollback after a failed commit failed", exc_info=True)
            scope.setdefault("state", {})[_COMMIT_FAILED] = True
            message["status"] = 503
            message["headers"] = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_FAILED_BODY)).encode()),
                (b"retry-after", b"1"),
            ]
            return
        await _publish(publisher, session)

    return handler


SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@asynccontextmanager
async def transaction(
    sessions: SessionFactory, publisher: Publisher
) -> AsyncIterator[AsyncSession]:
    """A unit of work outside a request: commit at the end of the block (rollback if it
    raises), then publish what it recorded."""
    async with sessions() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
        await _publish(publisher, session)
