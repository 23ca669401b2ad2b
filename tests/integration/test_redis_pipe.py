"""The pipelined Redis connection of the hot commands (messenger/redis_pipe.py), against
real ``redis-server`` processes: replies matched to their callers under concurrency, the
script cache, authentication, and the faults it must turn into fast, typed errors and
recover from (a hung server, a killed one, a demoted primary, a Sentinel failover)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis as sync_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from messenger.backends import redis_client, redis_pipe
from messenger.config import Settings
from messenger.redis_pipe import FixedAddress, RedisPipe, encode_command
from messenger.state import Check, RedisState
from tests.support.redis_process import RedisProcess
from tests.support.sentinel import MASTER_NAME, SentinelGroup

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    server = RedisProcess().start()
    try:
        yield server
    finally:
        server.resume()
        server.stop()


def test_commands_are_encoded_as_resp_arrays() -> None:
    assert encode_command(["SET", "k", b"\x00v", 12]) == (
        b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\x00v\r\n$2\r\n12\r\n"
    )
    assert encode_command(["GET", "ключ"]) == "*2\r\n$3\r\nGET\r\n$8\r\nключ\r\n".encode()


async def test_every_caller_gets_its_own_reply_under_concurrency(own_redis: RedisProcess) -> None:
    pipe = RedisPipe(FixedAddress("127.0.0.1", own_redis.port), timeout=2.0)
    try:
        replies = await asyncio.gather(
            *(pipe.execute("ECHO", f"caller-{i}") for i in range(2_000)),
            *(pipe.execute("INCR", "counter") for _ in range(500)),
        )
        assert replies[:2_000] == [f"caller-{i}".encode() for i in range(2_000)]
        assert sorted(replies[2_000:]) == list(range(1, 501))
        with pytest.raises(ResponseError, match="wrong number of arguments"):
            await pipe.execute("GET")
        assert await pipe.execute("PING") == b"PONG"  # a reply error keeps the connection
    finally:
        await pipe.aclose()


async def test_a_script_is_loaded_again_after_the_server_forgot_it(own_redis: RedisProcess) -> None:
    pipe = RedisPipe(FixedAddress("127.0.0.1", own_redis.port), timeout=2.0)
    client = sync_redis.Redis(port=own_redis.port)
    script = "return {KEYS[1], ARGV[1]}"
    sha = client.script_load(script)
    try:
        assert await pipe.run_script(sha, script, ["k"], ["v"]) == [b"k", b"v"]
        client.script_flush()
        assert await pipe.run_script(sha, script, ["k2"], [7]) == [b"k2", b"7"]
        assert client.script_exists(sha) == [True]  # EVAL cached it again
    finally:
        client.close()
        await pipe.aclose()


async def test_password_and_database_are_sent_first() -> None:
    server = RedisProcess("--requirepass", "s3cret").start()
    try:
        settings = Settings.from_env(
            {"REDIS_URL": f"redis://:s3cret@127.0.0.1:{server.port}/3", "SECRET_KEY": "x" * 40}
        )
        client = redis_client(settings)
        pipe = redis_pipe(settings, client)
        assert pipe is not None
        assert await pipe.execute("SET", "in-db-3", "yes") == b"OK"
        direct = sync_redis.Redis(port=server.port, password="s3cret", db=3)
        assert direct.get("in-db-3") == b"yes"
        direct.close()
        wrong = RedisPipe(FixedAddress("127.0.0.1", server.port), timeout=1.0, password="nope")
        with pytest.raises(RedisConnectionError, match="ResponseError"):
            await wrong.execute("PING")  # a refused AUTH: no connection (503, like redis-py)
        await wrong.aclose()
        await pipe.aclose()
        await client.aclose()
    finally:
        server.stop()


async def test_a_hung_server_fails_calls_within_the_timeout_and_is_used_again_after(
    own_redis: RedisProcess,
) -> None:
    pipe = RedisPipe(FixedAddress("127.0.0.1", own_redis.port), timeout=0.5)
    try:
        assert await pipe.execute("PING") == b"PONG"
        own_redis.pause()
        started = time.monotonic()
        results = await asyncio.gather(
            *(pipe.execute("PING") for _ in range(20)), return_exceptions=True
        )
        waited = time.monotonic() - started
        assert all(isinstance(r, RedisTimeoutError) for r in results), results
        # A timeout, then one retry on a fresh connection that times out too: about two.
        assert waited < 0.5 * 2 + 1.0
        own_redis.resume()
        assert await pipe.execute("PING") == b"PONG"
    finally:
        await pipe.aclose()


async def test_a_killed_server_fails_fast_and_a_restarted_one_is_found_again() -> None:
    server = RedisProcess().start()
    pipe = RedisPipe(FixedAddress("127.0.0.1", server.port), timeout=1.0)
    try:
        assert await pipe.execute("PING") == b"PONG"
        server.kill()
        started = time.monotonic()
        with pytest.raises(RedisConnectionError):
            await pipe.execute("PING")
        assert time.monotonic() - started < 1.0
        server.start()  # same port
        assert await pipe.execute("PING") == b"PONG"
    finally:
        await pipe.aclose()
        server.stop()


class _Addresses:
    """The primary's address as a Sentinel would give it, changed by the test."""

    def __init__(self, *ports: int) -> None:
        self.ports = list(ports)
        self.asked = 0

    async def primary(self) -> tuple[str, int]:
        self.asked += 1
        return "127.0.0.1", self.ports[min(self.asked, len(self.ports)) - 1]


async def test_a_demoted_primary_is_left_for_the_primary_found_again(
    own_redis: RedisProcess,
) -> None:
    replica = RedisProcess("--replicaof", "127.0.0.1", str(own_redis.port)).start()
    addresses = _Addresses(replica.port, own_redis.port)
    pipe = RedisPipe(addresses, timeout=2.0)
    try:
        # The first connection reaches the replica, which refuses writes (READONLY):
        # the call is retried on the primary asked for again.
        assert await pipe.execute("SET", "where", "primary") == b"OK"
        assert addresses.asked == 2
        assert sync_redis.Redis(port=own_redis.port).get("where") == b"primary"
    finally:
        await pipe.aclose()
        replica.stop()


async def test_limits_and_publishes_follow_a_sentinel_failover() -> None:
    group = SentinelGroup().start()
    try:
        settings = Settings.from_env(
            {
                "REDIS_URL": "redis://127.0.0.1:1/0",  # host unused with sentinels
                "REDIS_SENTINELS": group.sentinels,
                "REDIS_SENTINEL_MASTER": MASTER_NAME,
                "SECRET_KEY": "x" * 40,
            }
        )
        client = redis_client(settings)
        pipe = redis_pipe(settings, client)
        assert pipe is not None
        state = RedisState(client, "failover", pipe)
        window = [Check("w", "window", 60_000, 1_000)]
        assert (await state.check("gen", window)).counts == (1,)
        group.kill_primary_and_wait_for_the_replica()
        deadline = time.monotonic() + 30
        while True:
            try:
                checked = await state.check("gen", window)
                break
            except (RedisConnectionError, RedisTimeoutError):
                assert time.monotonic() < deadline, "the pipe never found the new primary"
                await asyncio.sleep(0.2)
        # The replica had the first count (replicated) or not (lost in the failover).
        assert checked.counts[0] in (1, 2)
        assert group.keys_on_the_primary() >= 1
        await pipe.aclose()
        await client.aclose()
    finally:
        group.stop()


def test_a_pipe_closed_or_used_from_another_event_loop_opens_a_new_connection(
    own_redis: RedisProcess,
) -> None:
    pipe = RedisPipe(FixedAddress("127.0.0.1", own_redis.port), timeout=2.0)

    async def ping() -> object:
        return await pipe.execute("PING")

    # One app served by two test clients runs on two loops in turn; closing at shutdown
    # does not end the pipe for a later start.
    assert asyncio.run(ping()) == b"PONG"
    assert asyncio.run(ping()) == b"PONG"
    asyncio.run(pipe.aclose())
    assert asyncio.run(ping()) == b"PONG"
    asyncio.run(pipe.aclose())
