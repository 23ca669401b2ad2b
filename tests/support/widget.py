"""Helpers shared by the Widget API tests: a visitor client, an operator desk, an SSE reader.

Nothing here is a fixture: test modules build these on top of the conftest fixtures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from uuid import UUID

import httpx
from litestar.channels import Subscriber
from sqlalchemy import func, select
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

ORIGIN = "https://shop.example"

#: Limits far above what a test does, so only the behaviour under test decides.
RELAXED_ENV = {
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP": "10000/minute",
    "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN": "10000/minute",
    "MESSENGER_WIDGET_SEND_RATE_PER_SESSION": "10000/minute",
    "MESSENGER_WIDGET_SEND_RATE_PER_IP": "10000/minute",
    "MESSENGER_WIDGET_POLL_RATE_PER_SESSION": "10000/minute",
    "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS": "0.01",
    "MESSENGER_WIDGET_CHALLENGE_THRESHOLD": "10000",
    "MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER": "1000",
    "MESSENGER_STREAM_HEARTBEAT_SECONDS": "1",
}


async def count(db: AsyncSession, model: type[Any]) -> int:
    await db.commit()  # a fresh snapshot: other processes wrote meanwhile
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def fresh(db: AsyncSession, model: type[Any], key: Any) -> Any:
    """The row as it is in the database now, not as this session cached it."""
    await db.commit()
    return await db.get(model, key, populate_existing=True)


async def eventually(
    check: Callable[[], Any], *, within: float = 5.0, interval: float = 0.05
) -> Any:
    """Await ``check()`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            msg = f"condition not met within {within}s (last value {result!r})"
            raise AssertionError(msg)
        await asyncio.sleep(interval)


class WidgetVisitor:
    """One browser tab of a site visitor speaking the Widget API."""

    def __init__(
        self, client: httpx.AsyncClient, widget_token: str, *, origin: str = ORIGIN
    ) -> None:
        self.client = client
        self.widget_token = widget_token
        self.origin = origin
        self.session_token: str | None = None
        self.last_bootstrap: dict[str, Any] = {}

    def headers(self, extra: dict[str, str] | None = None, *, auth: bool = True) -> dict[str, str]:
        headers = {"Origin": self.origin}
        if auth and self.session_token:
            headers["Authorization"] = f"Bearer {self.session_token}"
        headers.update(extra or {})
        return headers

    async def bootstrap(
        self, *, headers: dict[str, str] | None = None, **body: Any
    ) -> dict[str, Any]:
        payload = {"widget_token": self.widget_token, **body}
        if self.session_token and "session_token" not in body:
            payload["session_token"] = self.session_token
        response = await self.client.post(
            "/api/widget/bootstrap", json=payload, headers=self.headers(headers, auth=False)
        )
        assert response.status_code == 200, response.text
        data = response.json()
        self.session_token = data["session_token"]
        self.last_bootstrap = data
        return data

    async def send_raw(
        self,
        body: str,
        client_msg_id: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> httpx.Response:
        payload = {"body": body, "client_msg_id": client_msg_id or uuid.uuid4().hex, **extra}
        return await self.client.post(
            "/api/widget/messages", json=payload, headers=self.headers(headers)
        )

    async def send(self, body: str, client_msg_id: str | None = None, **extra: Any) -> dict:
        response = await self.send_raw(body, client_msg_id, **extra)
        assert response.status_code == 201, response.text
        return response.json()

    async def poll(self, after: int = 0) -> dict[str, Any]:
        for _ in range(50):  # the minimum poll interval is tiny in tests; retry past it
            response = await self.client.get(
                "/api/widget/messages", params={"after": after}, headers=self.headers()
            )
            if response.status_code != 429:
                break
            await asyncio.sleep(0.02)
        assert response.status_code == 200, response.text
        return response.json()

    async def post(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        return await self.client.post(f"/api/widget{path}", json=payload, headers=self.headers())


class OperatorDesk:
    """The staff side, from the pytest process: replies, notes, typing and staff events.

    It has its own database engine and Redis connection, so it acts as one more app process
    publishing through Redis.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backends = Backends.from_settings(settings)
        self.config = alchemy_config(settings)
        self.publisher = Publisher(
            self.backends.channels,
            settings.redis_prefix,
            AttachmentLinks(settings.require_secret_key()),
        )

    async def __aenter__(self) -> OperatorDesk:
        await self.backends.channels.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.backends.channels.__aexit__(exc_type, exc, tb)
        finally:
            await self.backends.close()
            await self.config.get_engine().dispose()

    def transaction(self) -> Any:
        """A unit of work as the app runs one: commit, then publish what it recorded."""
        return transaction(self.config.get_session, self.publisher)

    async def reply(self, conversation_id: UUID | str, user_id: int, body: str) -> Message:
        async with self.transaction() as db:
            conversation = await db.get(Conversation, UUID(str(conversation_id)))
            user = await db.get(User, user_id)
            assert conversation is not None
            assert user is not None
            message, created = await ConversationService(session=db).reply(conversation, user, body)
            assert created
        return message

    async def note(self, conversation_id: UUID | str, user_id: int, body: str) -> Message:
        async with self.transaction() as db:
            conversation = await db.get(Conversation, UUID(str(conversation_id)))
            user = await db.get(User, user_id)
            assert conversation is not None
            assert user is not None
            message = await ConversationService(session=db).add_note(conversation, user, body)
        return message

    async def operator_read(self, conversation_id: UUID | str, up_to_id: int) -> int | None:
        """Staff have read the visitor's messages up to ``up_to_id``: store and publish."""
        async with self.transaction() as db:
            conversation = await db.get(Conversation, UUID(str(conversation_id)))
            assert conversation is not None
            marker = await ConversationService(session=db).mark_read_by_operator(
                conversation, up_to_id
            )
            assert marker is not None
        return marker

    async def typing(self, conversation_id: UUID | str, *, typing: bool, name: str) -> None:
        async with self.transaction() as db:
            conversation = await db.get(Conversation, UUID(str(conversation_id)))
            assert conversation is not None
            await set_typing(
                self.backends.state,
                db,
                conversation,
                by_visitor=False,
                typing=typing,
                operator_name=name,
            )

    async def watch_branch(self, branch_id: int) -> StaffWatch:
        subscriber = await self.backends.channels.subscribe(
            [staff_branch_channel(self.settings.redis_prefix, branch_id)]
        )
        # The subscription reaches Redis asynchronously: give it a moment before acting.
        await asyncio.sleep(0.2)
        return StaffWatch(subscriber)


@dataclass
class StaffWatch:
    """A staff-side subscriber on one branch channel, decoding envelopes."""

    subscriber: Subscriber
    seen: list[Envelope] = field(default_factory=list)
    _pending: asyncio.Future[bytes] | None = None

    async def _next(self, within: float) -> bytes | None:
        """The next event, or None after ``within`` seconds (the public Channels API)."""
        if self._pending is None:
            if not hasattr(self, "_events"):
                self._events = self.subscriber.iter_events()
            self._pending = asyncio.ensure_future(anext(self._events))
        done, _ = await asyncio.wait({self._pending}, timeout=within)
        if self._pending not in done:
            return None
        raw, self._pending = self._pending.result(), None
        return raw

    async def wait_for(
        self, predicate: Callable[[Envelope], bool], within: float = 5.0
    ) -> Envelope:
        for envelope in self.seen:
            if predicate(envelope):
                return envelope
        deadline = asyncio.get_running_loop().time() + within
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            raw = await self._next(left)
            if raw is None:
                break
            envelope = decode(raw)
            self.seen.append(envelope)
            if predicate(envelope):
                return envelope
        msg = f"no matching staff event within {within}s; saw {self.seen!r}"
        raise AssertionError(msg)

    async def drain(self, seconds: float) -> list[Envelope]:
        """Everything that arrives within ``seconds``."""
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            raw = await self._next(left)
            if raw is None:
                break
            self.seen.append(decode(raw))
        return self.seen


@dataclass
class SSEItem:
    event: str | None = None
    id: str | None = None
    data: str | None = None
    comments: list[str] = field(default_factory=list)
    at: float = 0.0  # event-loop time when the item was complete

    def json(self) -> Any:
        return json.loads(self.data or "null")


class SSEStream:
    """An open ``GET /api/widget/stream``, read in the background into ``items``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        headers: dict[str, str],
        params: dict[str, Any] | None = None,
    ) -> None:
        self._client = client
        self._headers = headers
        self._params = params or {}
        self.items: list[SSEItem] = []
        self.response: httpx.Response | None = None
        self._cm: Any = None
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    async def __aenter__(self) -> SSEStream:
        self._cm = self._client.stream(
            "GET",
            "/api/widget/stream",
            headers=self._headers,
            params=self._params,
            timeout=httpx.Timeout(10.0, read=None),
        )
        self.response = await asyncio.wait_for(self._cm.__aenter__(), 10)
        if self.response.status_code == 200:
            self._task = asyncio.create_task(self._read())
        else:
            await self.response.aread()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._cm is not None:
            cm, self._cm = self._cm, None
            await asyncio.wait_for(cm.__aexit__(None, None, None), 10)

    async def _read(self) -> None:
        assert self.response is not None
        current = SSEItem()
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if current.event or current.data is not None or current.comments:
                        current.at = asyncio.get_running_loop().time()
                        self.items.append(current)
                    current = SSEItem()
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "":
                    current.comments.append(value)
                elif name == "event":
                    current.event = value
                elif name == "id":
                    current.id = value
                elif name == "data":
                    current.data = value if current.data is None else current.data + "\n" + value
        except Exception as exc:  # the server went away: visible to the waiting test
            self.error = exc

    # --- views -----------------------------------------------------------------------------

    def events(self, name: str) -> list[SSEItem]:
        return [item for item in self.items if item.event == name]

    def message_ids(self) -> list[int]:
        return [int(item.id) for item in self.events("message") if item.id is not None]

    def comments(self) -> list[str]:
        return [c for item in self.items for c in item.comments]

    async def wait_for(
        self, predicate: Callable[[SSEStream], bool], within: float = 8.0
    ) -> SSEStream:
        deadline = asyncio.get_running_loop().time() + within
        while not predicate(self):
            if self._task is not None and self._task.done():
                msg = f"the stream ended ({self.error!r}); items: {self.items!r}"
                raise AssertionError(msg)
            if asyncio.get_running_loop().time() > deadline:
                msg = f"stream condition not met within {within}s; items: {self.items!r}"
                raise AssertionError(msg)
            await asyncio.sleep(0.02)
        return self

    async def connected(self) -> SSEStream:
        return await self.wait_for(lambda s: "connected" in s.comments())


class EventStream:
    """Server-Sent Events read off an httpx streaming response."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()
        self.seen: list[dict[str, Any]] = []

    async def next(self) -> dict[str, Any]:
        event: dict[str, Any] = {}
        data: list[str] = []
        async for line in self._lines:
            if line == "":
                if event or data:
                    break
                continue
            if line.startswith(":"):
                if not event and not data:
                    return {"comment": line[1:].strip()}
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                data.append(value)
            else:
                event[field] = value
        else:
            raise AssertionError("the stream ended")
        if data:
            event["data"] = "\n".join(data)
        return event

    async def until(self, predicate: Callable[[dict[str, Any]], bool], within: float = 10) -> None:
        async with asyncio.timeout(within):
            while True:
                event = await self.next()
                self.seen.append(event)
                if predicate(event):
                    return

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(e["data"]) for e in self.seen if e.get("event") == "message"]
