"""The staff side from the test process: one operator desk for the integration, live and
browser tests.

A desk has its own database engine and Redis connection, so it acts as one more app
process. Every write is one unit of work as the app runs it —
``messenger.realtime.transaction.transaction(config.get_session, publisher)``: commit, then
publish what the services recorded. ``watch_branch`` subscribes to a branch's staff channel.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any
from uuid import UUID

from litestar.channels import Subscriber
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.links import AttachmentLinks
from messenger.backends import Backends
from messenger.config import Settings
from messenger.conversations.actions import set_typing
from messenger.conversations.service import ConversationService
from messenger.db import alchemy_config
from messenger.db.models import Conversation, Message, User
from messenger.realtime.events import Envelope, decode, staff_branch_channel
from messenger.realtime.publisher import Publisher
from messenger.realtime.transaction import transaction
from tests.support.waiting import eventually

_PROBE = b"test-probe:"


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


class OperatorDesk:
    """Replies, notes, read markers, typing, and a watch on staff events.

    ``async with OperatorDesk(settings) as desk`` (or ``await desk.start()`` …
    ``await desk.close()``).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backends = Backends.from_settings(settings)
        self.config = alchemy_config(settings)
        self.publisher = Publisher(
            self.backends.channels,
            settings.redis_prefix,
            AttachmentLinks(settings.require_secret_key()),
            self.backends.state,
        )
        self._watches: list[StaffWatch] = []

    async def start(self) -> OperatorDesk:
        await self.backends.channels.__aenter__()
        return self

    async def close(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        for watch in self._watches:
            watch.stop()
        try:
            await self.backends.channels.__aexit__(exc_type, exc, tb)
        finally:
            await self.backends.close()
            await self.config.get_engine().dispose()

    async def __aenter__(self) -> OperatorDesk:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close(exc_type, exc, tb)

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A unit of work as the app runs one: commit, then publish what it recorded."""
        return transaction(self.config.get_session, self.publisher)

    # --- writes ------------------------------------------------------------------------------

    async def reply(
        self, conversation_id: UUID | str, user_id: int, body: str, *, publish: bool = True
    ) -> Message:
        """An operator's reply; ``publish=False`` commits it but loses the publish (as when
        Redis hiccups), so only the database knows."""
        unit = self.transaction() if publish else _commit_only(self.config.get_session)
        async with unit as db:
            conversation, user = await _staff_pair(db, conversation_id, user_id)
            message, created = await ConversationService(session=db).reply(conversation, user, body)
            assert created
        return message

    async def note(self, conversation_id: UUID | str, user_id: int, body: str) -> Message:
        async with self.transaction() as db:
            conversation, user = await _staff_pair(db, conversation_id, user_id)
            message = await ConversationService(session=db).add_note(conversation, user, body)
        return message

    async def set_status(self, conversation_id: UUID | str, user_id: int, status: str) -> None:
        """Staff change the conversation's status (resolve, close…): store and publish."""
        async with self.transaction() as db:
            conversation, user = await _staff_pair(db, conversation_id, user_id)
            await ConversationService(session=db).change_status(conversation, status, user)

    async def read(self, conversation_id: UUID | str, up_to_id: int) -> int:
        """Staff have read the visitor's messages up to ``up_to_id``: store and publish."""
        async with self.transaction() as db:
            conversation = await db.get(Conversation, _uuid(conversation_id))
            assert conversation is not None
            marker = await ConversationService(session=db).mark_read_by_operator(
                conversation, up_to_id
            )
            assert marker is not None
        return marker

    async def typing(self, conversation_id: UUID | str, *, name: str, typing: bool = True) -> None:
        async with self.transaction() as db:
            conversation = await db.get(Conversation, _uuid(conversation_id))
            assert conversation is not None
            await set_typing(
                self.backends.state,
                db,
                conversation,
                by_visitor=False,
                typing=typing,
                operator_name=name,
            )

    # --- reads -------------------------------------------------------------------------------

    async def conversation(self, inbox_id: int, *, within: float = 10.0) -> Conversation:
        """The inbox's (single) conversation, once the visitor's first message made it."""

        async def find() -> Conversation | None:
            async with self.config.get_session() as db:
                return await db.scalar(
                    select(Conversation).where(Conversation.inbox_id == inbox_id)
                )

        return await eventually(find, within=within, interval=0.1)

    async def messages(self, conversation_id: UUID | str) -> list[Message]:
        async with self.config.get_session() as db:
            rows = await db.scalars(
                select(Message)
                .where(Message.conversation_id == _uuid(conversation_id))
                .order_by(Message.id)
            )
            return list(rows)

    # --- staff events ------------------------------------------------------------------------

    async def watch_branch(self, branch_id: int) -> StaffWatch:
        """Staff events of a branch, collected in the background from now on.

        Returns once the subscription is live: a probe published on the channel came back
        (no fixed pause).
        """
        channel = staff_branch_channel(self.settings.redis_prefix, branch_id)
        # A private channel subscribed in the same call: the app never sees the probe.
        token = secrets.token_hex(4)
        probe_channel = f"{self.settings.redis_prefix}:test-probe:{token}"
        subscriber = await self.backends.channels.subscribe([channel, probe_channel])
        watch = StaffWatch(subscriber)
        self._watches.append(watch)
        probe = _PROBE + token.encode()
        for _ in range(100):
            await self.backends.channels.wait_published(probe, [probe_channel])
            if await watch.probed(probe, within=0.1):
                return watch
        msg = f"the subscription to {channel} never delivered the probe"
        raise AssertionError(msg)


class StaffWatch:
    """A staff-side subscriber on one branch channel: decoded envelopes in ``seen``."""

    def __init__(self, subscriber: Subscriber) -> None:
        self.subscriber = subscriber
        self.seen: list[Envelope] = []
        self._probes: set[bytes] = set()
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for raw in self.subscriber.iter_events():
            if raw.startswith(_PROBE):
                self._probes.add(raw)
            else:
                self.seen.append(decode(raw))

    def stop(self) -> None:
        self._task.cancel()

    async def probed(self, probe: bytes, within: float) -> bool:
        async def arrived() -> bool:
            return probe in self._probes

        try:
            await eventually(arrived, within=within, interval=0.01)
        except AssertionError:
            return False
        return True

    async def wait_for(
        self, predicate: Callable[[Envelope], bool], within: float = 5.0
    ) -> Envelope:
        """The first event (seen so far or arriving within ``within`` s) that matches."""

        async def match() -> Envelope | None:
            return next((e for e in self.seen if predicate(e)), None)

        try:
            return await eventually(match, within=within, interval=0.02)
        except AssertionError:
            msg = f"no matching staff event within {within}s; saw {self.seen!r}"
            raise AssertionError(msg) from None

    def before(self, marker: Envelope) -> list[Envelope]:
        """The events that arrived before ``marker`` (one of ``seen``)."""
        return self.seen[: self.seen.index(marker)]


async def _staff_pair(
    db: AsyncSession, conversation_id: UUID | str, user_id: int
) -> tuple[Conversation, User]:
    """The conversation and the staff user acting on it, both present."""
    conversation = await db.get(Conversation, _uuid(conversation_id))
    user = await db.get(User, user_id)
    assert conversation is not None
    assert user is not None
    return conversation, user


@asynccontextmanager
async def _commit_only(sessions: Callable[[], Any]) -> AsyncIterator[AsyncSession]:
    async with sessions() as db:
        yield db
        await db.commit()
