"""The events that travel between processes, and the channel names they travel on.

Channel names are bounded by design (STACK.md pitfall 5: the channels plugin keeps an entry
for every channel name ever subscribed): a visitor's events go to one of
:data:`VISITOR_SHARDS` shard channels chosen by the visitor id, and every stream drops the
events not meant for it; staff events go to one channel per branch plus one for admins.
"""

from __future__ import annotations

import zlib
from typing import Any, Literal
from uuid import UUID

import msgspec

from messenger.db.events import EventName

VISITOR_SHARDS = 64

#: Who an envelope is for.
Audience = Literal["visitor", "staff", "both"]


class Envelope(msgspec.Struct, frozen=True):
    """What goes over the wire between processes."""

    event: EventName
    data: dict[str, Any]
    visitor_id: str | None = None  # for visitor streams: whose event this is
    conversation_id: str | None = None
    branch_id: int | None = None
    id: int | None = None  # the SSE id (message events)
    audience: Audience = "both"


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Envelope)


def encode(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def decode(raw: bytes) -> Envelope:
    return _decoder.decode(raw)


def visitor_channel(prefix: str, visitor_id: UUID | str) -> str:
    shard = zlib.crc32(str(visitor_id).encode()) % VISITOR_SHARDS
    return f"{prefix}:rt:visitor:{shard}"


def staff_branch_channel(prefix: str, branch_id: int) -> str:
    return f"{prefix}:rt:staff:branch:{branch_id}"


def staff_all_channel(prefix: str) -> str:
    """Admins see every branch, and conversations no branch took."""
    return f"{prefix}:rt:staff:all"
