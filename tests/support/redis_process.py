"""A ``redis-server`` of one test on a free port, killed, paused and started again at will."""

from __future__ import annotations

import signal
import subprocess
import time

import redis as sync_redis
from redis.asyncio import Redis

from messenger.redis_pipe import FixedAddress, RedisPipe
from tests.support.servers import free_port


def pipe_like(client: Redis) -> RedisPipe:
    """A pipelined connection to the server and database of ``client`` (the suite's)."""
    kwargs = client.connection_pool.connection_kwargs
    return RedisPipe(
        FixedAddress(kwargs.get("host", "localhost"), int(kwargs.get("port", 6379))),
        timeout=2.0,
        db=int(kwargs.get("db") or 0),
    )


class RedisProcess:
    """A ``redis-server`` of this test on a free port: killed and started again at will."""

    def __init__(self, *more: str) -> None:
        self.port = free_port()
        self._more = more
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *self._more,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        password = (
            self._more[self._more.index("--requirepass") + 1]
            if "--requirepass" in self._more
            else None
        )
        client = sync_redis.Redis(port=self.port, socket_connect_timeout=0.5, password=password)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except sync_redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: the server keeps its connections open and answers nothing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()
