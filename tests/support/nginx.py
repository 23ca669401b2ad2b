"""A real nginx (Debian's) in front of app processes, with the deployment's own server
block: ``docker/nginx.conf`` with its upstream pointed at the test's processes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.env import ROOT
from tests.support.servers import free_port, wait_for_port

NGINX = "/usr/sbin/nginx"


def server_block(ports: list[int], listen: int, log_dir: Path) -> str:
    """docker/nginx.conf, unchanged but for where it listens, logs and finds the app."""
    conf = (ROOT / "docker" / "nginx.conf").read_text()
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in ports)
    conf, replaced = re.subn(
        r"upstream messenger \{[^}]*\}", f"upstream messenger {{\n{servers}}}", conf
    )
    assert replaced == 1, "docker/nginx.conf has no upstream block"
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    conf = conf.replace("/var/log/nginx/access.log", str(log_dir / "access.log"))
    # The monitoring network of the compose file is not this machine's.
    return conf.replace("allow 172.28.0.0/24;", "allow 127.0.0.1;")


class Nginx:
    def __init__(self, ports: list[int]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = Path(tempfile.mkdtemp(prefix="messenger-nginx-"))
        self._ports = ports
        self.process: subprocess.Popen[bytes] | None = None

    def access_log(self) -> str:
        path = self._dir / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> Nginx:
        os.chmod(self._dir, 0o777)  # noqa: S103 - a throwaway test folder; workers run as nobody
        (self._dir / "nginx.conf").write_text(
            "worker_processes 1;\n"
            f"error_log {self._dir / 'error.log'} warn;\n"
            f"pid {self._dir / 'nginx.pid'};\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"  client_body_temp_path {self._dir / 'body'};\n"
            f"  proxy_temp_path {self._dir / 'proxy'};\n"
            f"  fastcgi_temp_path {self._dir / 'fastcgi'};\n"
            f"  uwsgi_temp_path {self._dir / 'uwsgi'};\n"
            f"  scgi_temp_path {self._dir / 'scgi'};\n"
            + server_block(self._ports, self.port, self._dir)
            + "\n}\n"
        )
        self.process = subprocess.Popen(
            [NGINX, "-p", str(self._dir), "-c", str(self._dir / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=(self._dir / "stderr.log").open("wb"),
        )
        wait_for_port(self.process, self.port, "nginx", self._dir / "stderr.log")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self._dir, ignore_errors=True)
