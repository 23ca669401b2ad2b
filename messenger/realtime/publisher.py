"""Publishing committed domain events to every process's live streams.

Only :mod:`messenger.realtime.transaction` calls :meth:`Publisher.publish`, with the events
a committed transaction recorded; nothing else publishes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
from litestar.channels import ChannelsPlugin

from messenger.attachments.links import AttachmentLinks
from messenger.conversations.schemas import message_out
from messenger.conversations.timeline import is_visible_to_visitor
from messenger.db.events import DomainEvent
from messenger.inboxes.cache import GENERATION_KEY
from messenger.realtime.events import (
    Audience,
    Envelope,
    encode,
    staff_all_channel,
    staff_branch_channel,
    visitor_channel,
)
from messenger.state import SharedState


class Publisher:
    def __init__(
        self,
        channels: ChannelsPlugin,
        prefix: str,
        links: AttachmentLinks,
        state: SharedState | None = None,
    ) -> None:
        self._channels = channels
        self._prefix = prefix
        self._links = links
        self._state = state

    async def announce_inbox_changes(self) -> None:
        """A committed transaction changed an inbox: every process's inbox cache is stale
        from the next widget call on (see :mod:`messenger.inboxes.cache`)."""
        if self._state is not None:
            await self._state.bump(GENERATION_KEY)

    def envelope(self, event: DomainEvent) -> tuple[Envelope, list[str]]:
        """The wire form of ``event`` and the channels it goes to.

        A message goes to staff always and to the visitor only if the visitor may see it:
        :func:`is_visible_to_visitor` is checked here, the one place a message is published,
        so a note can never reach a visitor stream.
        """
        to_visitor, to_staff = event.to_visitor, event.to_staff
        data: dict[str, Any] = event.data
        event_id: int | None = None
        if event.message is not None:
            message = event.message
            event_id = message.id
            if is_visible_to_visitor(message):
                data = msgspec.to_builtins(message_out(message, self._links))
            else:
                to_visitor = False
                data = {
                    "id": message.id,
                    "conversation_id": str(message.conversation_id),
                    "sender": message.sender.value,
                    "kind": message.kind.value,
                }
        channels: list[str] = []
        if to_staff:
            channels.append(staff_all_channel(self._prefix))
            if event.branch_id is not None:
                channels.append(staff_branch_channel(self._prefix, event.branch_id))
        if to_visitor:
            channels.append(visitor_channel(self._prefix, event.visitor_id))
        audience: Audience = (
            "both" if to_visitor and to_staff else ("visitor" if to_visitor else "staff")
        )
        envelope = Envelope(
            event=event.name,
            data=data,
            visitor_id=str(event.visitor_id),
            conversation_id=str(event.conversation_id),
            branch_id=event.branch_id,
            id=event_id,
            audience=audience,
        )
        return envelope, channels

    async def publish(self, events: Iterable[DomainEvent]) -> None:
        for event in events:
            envelope, channels = self.envelope(event)
            if channels:
                await self._channels.wait_published(encode(envelope), channels)
