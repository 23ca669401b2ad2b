"""A real PgBouncer (Debian's ``pgbouncer``) in transaction pooling mode, started by a test.

It listens on a free port in front of the suite's PostgreSQL, with fewer server
connections than the app has clients, so that consecutive transactions of one app
connection land on different server connections — what breaks statement caches.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.support.servers import free_port, wait_for_port

PGBOUNCER = "/usr/sbin/pgbouncer"


class PgBouncer:
    def __init__(self, database_url: str, *, server_connections: int = 2) -> None:
        self.port = free_port()
        self._upstream = urlsplit(database_url)
        self._server_connections = server_connections
        self._dir = Path(tempfile.mkdtemp(prefix="messenger-pgbouncer-"))
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database_url: str) -> str:
        """``database_url`` with PgBouncer's host and port."""
        parts = urlsplit(database_url)
        user = parts.username or "postgres"
        return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{self.port}"))

    def start(self) -> PgBouncer:
        user = self._upstream.username or "postgres"
        (self._dir / "users.txt").write_text(f'"{user}" ""\n')
        (self._dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={self._upstream.hostname or '127.0.0.1'} "
            f"port={self._upstream.port or 5432}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "auth_type = trust\n"
            f"auth_file = {self._dir / 'users.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self._server_connections}\n"
            "max_client_conn = 1000\n"
            "unix_socket_dir =\n"
        )
        command = [PGBOUNCER, str(self._dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root: it drops to the postgres user.
            shutil.chown(self._dir, "postgres")
            for path in self._dir.iterdir():
                shutil.chown(path, "postgres")
            command[1:1] = ["-u", "postgres"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=(self._dir / "log").open("wb")
        )
        wait_for_port(self.process, self.port, "pgbouncer", self._dir / "log")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self._dir, ignore_errors=True)
