"""One Redis connection that every request's hot commands share, pipelined.

The widget's hot calls each make one or two Redis round trips: the limits script
(:meth:`messenger.state.RedisState.check`) and the live fan-out's PUBLISH script. Through
redis-py every such command checks a connection out of the pool (a lock, a health check),
packs its arguments, writes, waits for the reply alone and checks the connection back in:
a profile of the poll under load put redis-py's command path at 12 % of the worker's
samples, the largest cost left that the project owns (docs/performance.md).

Here the commands of all requests go down one connection in order and the replies come
back in the same order (RESP guarantees it), matched to their callers by a FIFO of
futures: no checkout, no lock, the commands of one loop iteration written with one
system call, the replies parsed by hiredis (the C parser redis-py uses too). Written
here because no maintained asyncio client multiplexes like this (redis-py's pool is one
connection per command in flight; the multiplexing ``aioredis`` 1.x is unmaintained).

What it keeps from the pooled client (``messenger.backends.redis_client``):

* the same server: ``REDIS_URL`` directly (user, password, database, TLS), or the primary
  that ``REDIS_SENTINELS`` name for ``REDIS_SENTINEL_MASTER``, asked again on every
  reconnect, so a failover is followed;
* failing fast: a call waits at most ``timeout`` seconds for its reply; then the
  connection is dropped and every call in flight fails with redis-py's
  ``TimeoutError`` (or ``ConnectionError`` when the connection was lost), which the app's
  error handlers turn into a 503;
* one immediate retry on a fresh connection after a connection error or a timeout (what
  ``Retry(NoBackoff(), 1)`` does for the pool), and none after a reply error;
* a primary demoted to a replica by a failover answers ``READONLY``: the connection is
  dropped and the call retried on the primary found again.

Only single commands that need nothing of the connection's state belong here (scripts,
PUBLISH, SET, GETDEL, INCR, ZREM): never a blocking command, a pub/sub subscription or a
MULTI (the connection is shared: another caller's commands would land inside the
transaction) — what must be atomic is a Lua script.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
from collections.abc import Sequence
from typing import Any, Protocol, cast

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Arg = bytes | str | int


class AddressBook(Protocol):
    """Where the primary is now: ``(host, port)``."""

    async def primary(self) -> tuple[str, int]: ...


class FixedAddress:
    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)

    async def primary(self) -> tuple[str, int]:
        return self._address


class SentinelAddress:
    """The primary the sentinels name now (redis-py's sentinel pool asks them)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def primary(self) -> tuple[str, int]:
        host, port = await self._pool.get_master_address()
        return str(host), int(port)


def encode_command(args: Sequence[Arg]) -> bytes:
    """A command in RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        else:
            data = b"%d" % arg
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Connection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._reader = hiredis.Reader(replyError=ResponseError)
        self.transport: asyncio.Transport | None = None
        #: (future, deadline) of each command written, in order.
        self.waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self._out: list[bytes] = []
        self._flush_planned = False
        self.closed = False
        self._failure: type[Exception] = RedisConnectionError

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast("asyncio.Transport", transport)

    def send(self, command: bytes, timeout: float) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self.loop.create_future()
        self.waiting.append((future, self.loop.time() + timeout))
        self._out.append(command)
        if not self._flush_planned:
            # Every command of this loop iteration in one write.
            self._flush_planned = True
            self.loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._flush_planned = False
        if self._out and self.transport is not None and not self.closed:
            data = b"".join(self._out)
            self._out.clear()
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        try:
            reader.feed(data)
            while (reply := reader.gets()) is not False:
                if not self.waiting:
                    raise RedisConnectionError("a reply nobody asked for")
                future, _ = self.waiting.popleft()
                if future.done():
                    continue
                if isinstance(reply, ResponseError):
                    future.set_exception(_typed(reply))
                else:
                    future.set_result(reply)
        except Exception:
            self.abort(RedisConnectionError)

    def check_deadlines(self) -> None:
        if self.waiting and self.waiting[0][1] <= self.loop.time():
            self.abort(RedisTimeoutError)

    def abort(self, failure: type[Exception]) -> None:
        self._failure = failure
        self.closed = True  # no new command here; connection_lost follows later
        if self.transport is not None:
            self.transport.abort()  # connection_lost follows
        else:
            self.connection_lost(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        self._out.clear()
        failure = self._failure
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(failure("the Redis connection was lost"))


_running_loop = asyncio.get_running_loop


def _typed(error: ResponseError) -> ResponseError:
    message = str(error)
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    if message.startswith("READONLY"):
        return ReadOnlyError(message)
    return error


class RedisPipe:
    """The shared connection: :meth:`execute` a command, :meth:`run_script` a Lua script."""

    def __init__(
        self,
        address: AddressBook,
        *,
        timeout: float,
        username: str | None = None,
        password: str | None = None,
        db: int = 0,
        use_ssl: bool = False,
    ) -> None:
        self._address = address
        self._timeout = timeout
        self._handshake: list[bytes] = []
        if password is not None:
            auth: list[Arg] = ["AUTH", username, password] if username else ["AUTH", password]
            self._handshake.append(encode_command(auth))
        if db:
            self._handshake.append(encode_command(["SELECT", db]))
        self._ssl = ssl.create_default_context() if use_ssl else None
        self._connection: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    async def execute(self, *args: Arg) -> Any:
        """Send one command; its reply (bytes, int, a list, None), or redis-py's exception."""
        command = encode_command(args)
        try:
            return await self._once(command)
        except (RedisConnectionError, RedisTimeoutError, ReadOnlyError):
            return await self._once(command)  # one retry, on a fresh connection

    async def run_script(
        self, sha: str, script: str, keys: Sequence[Arg], args: Sequence[Arg]
    ) -> Any:
        """EVALSHA, or EVAL the first time the server has not got the script cached."""
        try:
            return await self.execute("EVALSHA", sha, len(keys), *keys, *args)
        except NoScriptError:
            return await self.execute("EVAL", script, len(keys), *keys, *args)

    async def _once(self, command: bytes) -> Any:
        connection = self._connection
        if connection is None or connection.closed or connection.loop is not _running_loop():
            # (a connection belongs to the event loop that opened it: an app served again
            # on another loop, as tests do, opens its own)
            connection = await self._connect()
        future = connection.send(command, self._timeout)
        if self._watchdog is None:
            self._watch()
        try:
            return await future
        except ReadOnlyError:
            # A failover demoted this server: find the primary again.
            connection.abort(RedisConnectionError)
            raise

    def _watch(self) -> None:
        """One timer for every call in flight (not one per call): drops the connection when
        the oldest call has waited past the timeout."""
        self._watchdog = None
        connection = self._connection
        if connection is None or connection.closed:
            return
        connection.check_deadlines()
        if connection.waiting and not connection.closed:
            loop = asyncio.get_running_loop()
            self._watchdog = loop.call_later(self._timeout / 4, self._watch)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        if self._connecting is not None and self._connecting.get_loop() is loop:
            return await asyncio.shield(self._connecting)
        self._connecting = loop.create_future()
        try:
            connection = await asyncio.wait_for(self._open(loop), self._timeout)
        except BaseException as exc:
            failure: Exception = (
                RedisTimeoutError("connecting to Redis timed out")
                if isinstance(exc, TimeoutError)
                else RedisConnectionError(f"connecting to Redis failed ({type(exc).__name__})")
            )
            self._connecting.set_exception(failure)
            self._connecting.exception()  # retrieved: waiters re-raise their own copy
            self._connecting = None
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise failure from exc
        self._connection = connection
        self._connecting.set_result(connection)
        self._connecting = None
        return connection

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        host, port = await self._address.primary()
        _, connection = await loop.create_connection(
            lambda: _Connection(loop), host, port, ssl=self._ssl
        )
        try:
            for step in self._handshake:
                await connection.send(step, self._timeout)
        except BaseException:
            connection.abort(RedisConnectionError)
            raise
        return connection

    async def aclose(self) -> None:
        """Close the connection (a later call opens a new one, as redis-py's client does)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        connection, self._connection = self._connection, None
        if connection is not None and connection.transport is not None:
            with contextlib.suppress(Exception):
                connection.transport.close()
