"""Real ``messenger serve`` processes for the live and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.env import ROOT, cli_env


def wait_for_port(
    process: subprocess.Popen[bytes],
    port: int,
    what: str,
    log: Path | None = None,
    within: float = 10.0,
) -> None:
    """Until ``port`` on 127.0.0.1 accepts a connection (at most ``within`` s); a process that
    exits meanwhile fails at once, with its log."""
    deadline = time.monotonic() + within
    while True:
        if process.poll() is not None:
            detail = log.read_text(errors="replace") if log is not None and log.exists() else ""
            msg = f"{what} exited: {detail}"
            raise RuntimeError(msg)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A real ``messenger serve`` process (uvicorn) on a free port."""

    def __init__(self, env: dict[str, str], host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"messenger-live-{self.port}.log"
        self._env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> LiveServer:
        import time
        import urllib.request

        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "messenger",
                "serve",
                "--host",
                self.host,
                "--port",
                str(self.port),
            ],
            env=cli_env(**self._env),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = f"server exited early:\n{self.log_path.read_text()}"
                raise RuntimeError(msg)
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        msg = f"server did not answer within {timeout}s:\n{self.log_path.read_text()}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
