"""A Redis primary, its replica and one Sentinel (Debian's ``redis-server`` and
``redis-sentinel``), on free ports, started by a test that fails the primary over."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis as sync_redis

from tests.support.servers import free_port

MASTER_NAME = "messenger"


def _wait(check: object, what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except (sync_redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            msg = f"timed out waiting for {what}"
            raise TimeoutError(msg)
        time.sleep(0.1)


class SentinelGroup:
    def __init__(self) -> None:
        self.primary_port = free_port()
        self.replica_port = free_port()
        self.sentinel_port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="messenger-sentinel-"))
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def sentinels(self) -> str:
        return f"127.0.0.1:{self.sentinel_port}"

    def _redis(self, name: str, port: int, *more: str) -> None:
        self._processes[name] = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._dir),
                *more,
            ],
            stdout=(self._dir / f"{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )

    def _client(self, port: int) -> sync_redis.Redis:
        return sync_redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=0.5)

    def start(self) -> SentinelGroup:
        self._redis("primary", self.primary_port)
        self._redis(
            "replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.primary_port)
        )
        _wait(
            lambda: (
                self._client(self.replica_port).info("replication")["master_link_status"] == "up"
            ),
            "the replica to sync",
        )
        config = self._dir / "sentinel.conf"
        config.write_text(
            f"port {self.sentinel_port}\n"
            "bind 127.0.0.1\n"
            f"dir {self._dir}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.primary_port} 1\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
            f"sentinel failover-timeout {MASTER_NAME} 10000\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        self._processes["sentinel"] = subprocess.Popen(
            ["redis-sentinel", str(config)],
            stdout=(self._dir / "sentinel.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        _wait(
            lambda: self._client(self.sentinel_port).execute_command(
                "SENTINEL", "REPLICAS", MASTER_NAME
            ),
            "the sentinel to see the replica",
        )
        return self

    def primary_address(self) -> tuple[str, int]:
        host, port = self._client(self.sentinel_port).execute_command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME
        )
        return host.decode(), int(port)

    def keys_on_the_primary(self) -> int:
        return int(self._client(self.primary_address()[1]).dbsize())

    def kill_primary_and_wait_for_the_replica(self) -> None:
        primary = self._processes["primary"]
        primary.kill()
        primary.wait(timeout=10)
        _wait(
            lambda: self.primary_address()[1] == self.replica_port,
            "the sentinel to promote the replica",
            within=30,
        )
        _wait(
            lambda: self._client(self.replica_port).info("replication")["role"] == "master",
            "the replica to take the primary role",
        )

    def stop(self) -> None:
        for process in self._processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        shutil.rmtree(self._dir, ignore_errors=True)
