"""The floor: a bare ASGI app (no framework) doing only the I/O a widget call must do.

``make bench`` (``loadtests/bench.py``) loads it and the product back to back with the same
wrk scripts, so that the product's throughput can be read as a fraction of this floor.

- ``POST /api/widget/messages`` (send): parse the JSON body, one
  ``INSERT … ON CONFLICT (conversation_id, client_msg_id) DO NOTHING RETURNING`` into the
  product's ``messages`` table (a migrated database), one Redis ``PUBLISH``; 201 with the
  message (a retry of the same ``client_msg_id`` reads the stored one: 200).
- ``GET /api/widget/messages?after=<id>`` (poll): one indexed SELECT (``conversation_id, id``)
  of the visitor-visible messages after an id.
- ``POST /api/widget/bootstrap`` (returning visitor): one SELECT of the conversation's status
  and its last 100 visible messages.

The "session" is the conversation id itself (``Authorization: Bearer <uuid>``; for bootstrap
``session_token`` in the body): the floor checks no signature, origin or limit — those are
CPU work the product adds on top of this I/O. Served like ``messenger serve``: uvicorn, one
worker, uvloop + httptools, no access log.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/messenger_load \\
    REDIS_URL=redis://127.0.0.1:6379/0 python loadtests/floor.py --port 8766
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

import asyncpg
import msgspec
from redis.asyncio import Redis

CHANNEL_PREFIX = f"{os.environ.get('MESSENGER_REDIS_PREFIX', 'load')}:floor:conversation:"

# Page sizes as the product's: 200 a poll (conversations.timeline.MAX_PAGE), the last 100
# at bootstrap (widget.service.BOOTSTRAP_HISTORY).
INSERT = """
INSERT INTO messages (conversation_id, sender, kind, body, client_msg_id, created_at, updated_at)
VALUES ($1, 'visitor', 'message', $2, $3, now(), now())
ON CONFLICT (conversation_id, client_msg_id) DO NOTHING
RETURNING id, created_at
"""
EXISTING = """
SELECT id, created_at FROM messages WHERE conversation_id = $1 AND client_msg_id = $2
"""
POLL = """
SELECT id, sender, body, client_msg_id, created_at, delivered_at, read_at
FROM messages
WHERE conversation_id = $1 AND id > $2 AND kind <> 'note'
ORDER BY id
LIMIT 200
"""
BOOTSTRAP = """
SELECT c.status, m.id, m.sender, m.body, m.client_msg_id, m.created_at, m.delivered_at, m.read_at
FROM conversations c
LEFT JOIN LATERAL (
    SELECT id, sender, body, client_msg_id, created_at, delivered_at, read_at
    FROM messages
    WHERE conversation_id = c.id AND kind <> 'note'
    ORDER BY id DESC
    LIMIT 100
) m ON true
WHERE c.id = $1
ORDER BY m.id
"""


class SendIn(msgspec.Struct, forbid_unknown_fields=True):
    body: str
    client_msg_id: str
    attachment_ids: list[str] = []


class BootstrapIn(msgspec.Struct):
    widget_token: str
    session_token: str | None = None
    page_url: str | None = None
    referrer: str | None = None
    locale: str | None = None


class MessageOut(msgspec.Struct):
    id: int
    conversation_id: UUID
    sender: str
    body: str
    client_msg_id: str | None
    created_at: datetime
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    author: None = None
    attachments: list[Any] = []


class MessagesOut(msgspec.Struct):
    messages: list[MessageOut]


class ConversationOut(msgspec.Struct):
    id: UUID
    status: str


class BootstrapOut(msgspec.Struct):
    session_token: str
    conversation: ConversationOut | None
    messages: list[MessageOut]


_send_in = msgspec.json.Decoder(SendIn)
_bootstrap_in = msgspec.json.Decoder(BootstrapIn)
_encode = msgspec.json.Encoder().encode
_JSON = [(b"content-type", b"application/json")]


class Floor:
    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None
        self.redis: Redis | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        try:
            if path == "/api/widget/messages" and method == "POST":
                status, body = await self.send_message(scope, await _body(receive))
            elif path == "/api/widget/messages" and method == "GET":
                status, body = await self.poll(scope)
            elif path == "/api/widget/bootstrap" and method == "POST":
                status, body = await self.bootstrap(await _body(receive))
            elif path == "/ready":
                status, body = 200, b'{"status":"ok"}'
            else:
                status, body = 404, b'{"error":"not_found"}'
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
            status, body = 422, _encode({"error": "invalid", "detail": str(exc)})
        await send({"type": "http.response.start", "status": status, "headers": _JSON})
        await send({"type": "http.response.body", "body": body})

    async def send_message(self, scope: dict[str, Any], raw: bytes) -> tuple[int, bytes]:
        conversation_id = _bearer(scope)
        data = _send_in.decode(raw)
        assert self.pool is not None
        assert self.redis is not None
        status = 201
        row = await self.pool.fetchrow(INSERT, conversation_id, data.body, data.client_msg_id)
        if row is None:  # a retry: the stored message
            status = 200
            row = await self.pool.fetchrow(EXISTING, conversation_id, data.client_msg_id)
        message = MessageOut(
            id=row["id"],
            conversation_id=conversation_id,
            sender="visitor",
            body=data.body,
            client_msg_id=data.client_msg_id,
            created_at=row["created_at"],
        )
        payload = _encode(message)
        if status == 201:
            await self.redis.publish(f"{CHANNEL_PREFIX}{conversation_id}", payload)
        return status, payload

    async def poll(self, scope: dict[str, Any]) -> tuple[int, bytes]:
        conversation_id = _bearer(scope)
        query = parse_qs(scope["query_string"].decode("latin-1"))
        after = int(query.get("after", ["0"])[0])
        assert self.pool is not None
        rows = await self.pool.fetch(POLL, conversation_id, after)
        return 200, _encode(MessagesOut([_message(conversation_id, row) for row in rows]))

    async def bootstrap(self, raw: bytes) -> tuple[int, bytes]:
        data = _bootstrap_in.decode(raw)
        if not data.session_token:
            return 401, b'{"error":"unauthorized"}'
        conversation_id = UUID(data.session_token)
        assert self.pool is not None
        rows = await self.pool.fetch(BOOTSTRAP, conversation_id)
        if not rows:
            return 401, b'{"error":"unauthorized"}'
        messages = [_message(conversation_id, row) for row in rows if row["id"] is not None]
        out = BootstrapOut(
            session_token=data.session_token,
            conversation=ConversationOut(id=conversation_id, status=rows[0]["status"]),
            messages=messages,
        )
        return 200, _encode(out)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                dsn = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
                # The product's pool: pool_size 10 (messenger/db/__init__.py).
                self.pool = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
                self.redis = Redis.from_url(os.environ["REDIS_URL"])
                await self.redis.ping()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                if self.redis is not None:
                    await self.redis.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _message(conversation_id: UUID, row: asyncpg.Record) -> MessageOut:
    return MessageOut(
        id=row["id"],
        conversation_id=conversation_id,
        sender=row["sender"],
        body=row["body"],
        client_msg_id=row["client_msg_id"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        read_at=row["read_at"],
    )


def _bearer(scope: dict[str, Any]) -> UUID:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return UUID(value.decode("latin-1").removeprefix("Bearer ").strip())
    raise ValueError("no Authorization header")


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


app = Floor()


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    # `messenger serve` runs uvicorn with loop/http "auto", which pick uvloop and httptools
    # (uvicorn[standard]); named here so the floor never silently runs on something slower.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        server_header=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
