"""Orchestration for the load tests: a throwaway database, a seeded inbox, a server to load.

Everything runs on this machine only (127.0.0.1): PostgreSQL and Redis as configured below,
and a ``messenger serve`` process this script starts and stops itself.

    python loadtests/harness.py locust                  # 200 users, 20/s, 60 s, 2 workers
    python loadtests/harness.py locust --users 50 --run-time 30s
    python loadtests/harness.py locust --host http://127.0.0.1:8000 --widget-token wt_...
    python loadtests/harness.py serve --workers 2       # prepare and serve until Ctrl-C

The other scripts (``delivery.py``, ``streams.py``) import :func:`managed_server`.

Settings (environment): ``LOAD_ADMIN_DSN`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``)
is where the database ``LOAD_DB_NAME`` (default ``messenger_load``) is dropped and created;
``LOAD_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``); ``LOAD_PORT`` (default 8765).
The Redis keys all start with ``LOAD_REDIS_PREFIX`` (default ``load``) and ``:`` and are
deleted before each run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from monitor import Monitor, describe
from sse import wait_for_quiet

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOADTESTS = Path(__file__).resolve().parent
VAR = ROOT / "var" / "load"

ADMIN_DSN = os.environ.get("LOAD_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("LOAD_DB_NAME", "messenger_load")
REDIS_URL = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_PREFIX = os.environ.get("LOAD_REDIS_PREFIX", "load")
DEFAULT_PORT = int(os.environ.get("LOAD_PORT", "8765"))
#: A fixed, throwaway key: it signs sessions of a database that is dropped after the run.
SECRET_KEY = "load-test-secret-key-not-for-production-0123456789"  # noqa: S105
GENEROUS = "100000/minute"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: Before measuring, wait (at most LOAD_QUIET_WAIT s) until the machine's CPU is at most
#: LOAD_QUIET_BELOW % busy: other work on a 2-core machine distorts every figure.
QUIET_BELOW = float(os.environ.get("LOAD_QUIET_BELOW", "25"))
QUIET_WAIT = float(os.environ.get("LOAD_QUIET_WAIT", "180"))


def server_env(port: int, *, poll_interval: str = "0.5") -> dict[str, str]:
    """The environment of the server under load (and of the scripts that act as staff)."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", DB_NAME):
        raise SystemExit(f"LOAD_DB_NAME must be a plain identifier, not {DB_NAME!r}")
    base = ADMIN_DSN.rsplit("/", 1)[0]
    return {
        "DATABASE_URL": f"{base}/{DB_NAME}",
        "REDIS_URL": REDIS_URL,
        "MESSENGER_SECRET_KEY": SECRET_KEY,
        "MESSENGER_REDIS_PREFIX": REDIS_PREFIX,
        "MESSENGER_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "MESSENGER_DATA_DIR": str(VAR),
        "MESSENGER_ENV": "development",
        "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP": GENEROUS,
        "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN": GENEROUS,
        "MESSENGER_WIDGET_SEND_RATE_PER_SESSION": GENEROUS,
        "MESSENGER_WIDGET_SEND_RATE_PER_IP": GENEROUS,
        "MESSENGER_WIDGET_POLL_RATE_PER_SESSION": GENEROUS,
        "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS": poll_interval,
        "MESSENGER_WIDGET_CHALLENGE_THRESHOLD": "100000",
    }


def apply_env(port: int) -> None:
    """Make this process see the server's settings (for ``Settings.from_env``)."""
    os.environ.update(server_env(port))


# --- database and Redis --------------------------------------------------------------------


async def _recreate_database() -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    finally:
        await conn.close()


async def _drop_database() -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    finally:
        await conn.close()


async def _clear_redis() -> int:
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in redis.scan_iter(match=f"{REDIS_PREFIX}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += await redis.delete(*batch)
                batch.clear()
        if batch:
            deleted += await redis.delete(*batch)
    finally:
        await redis.aclose()
    return deleted


def _cli(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(  # noqa: S603 - our own CLI, arguments from this script
        [str(BIN / "messenger"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"messenger {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


@dataclass
class Seed:
    widget_token: str
    inbox_id: int
    branch_id: int
    operator_email: str


def prepare(port: int) -> Seed:
    """A fresh ``messenger_load`` database, migrated, with the demo inbox; Redis keys cleared."""
    env = server_env(port)
    VAR.mkdir(parents=True, exist_ok=True)
    asyncio.run(_recreate_database())
    asyncio.run(_clear_redis())
    _cli(["db", "upgrade", "--no-prompt"], env)
    demo = json.loads(_cli(["demo", "--json"], env))
    return Seed(
        widget_token=demo["inbox"]["widget_token"],
        inbox_id=demo["inbox"]["id"],
        branch_id=demo["branch"]["id"],
        operator_email=demo["operator"]["email"],
    )


def cleanup() -> None:
    asyncio.run(_drop_database())
    asyncio.run(_clear_redis())


# --- the server ----------------------------------------------------------------------------


def ready(base_url: str, timeout: float = 3.0) -> int | None:
    """The status of ``GET /ready`` (None when nothing answers)."""
    try:
        url = f"{base_url}/ready"  # http://127.0.0.1:<port>, built here
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return None


@dataclass
class Server:
    port: int
    workers: int
    process: subprocess.Popen[bytes]
    log_path: Path
    seed: Seed
    env: dict[str, str] = field(default_factory=dict)
    busy_before: float | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return self.base_url  # the demo inbox allows 127.0.0.1 on any port

    def worker_pids(self) -> list[int]:
        """The processes serving requests: the uvicorn process itself with one worker,
        its children with several."""
        if self.workers == 1:
            return [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            pids = [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []
        return [pid for pid in pids if b"spawn_main" in _cmdline(pid)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def rss_kib(pid: int) -> int:
    """VmRSS of a process in KiB (from /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown (it stops its workers)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def managed_server(
    *,
    port: int = DEFAULT_PORT,
    workers: int = 2,
    keep_database: bool = False,
    extra_env: dict[str, str] | None = None,
    quiet: bool = True,
) -> Iterator[Server]:
    """Prepare the database, start ``messenger serve``, wait for /ready; stop and clean up."""
    if ready(f"http://127.0.0.1:{port}", timeout=1) is not None:
        raise SystemExit(f"something already answers on 127.0.0.1:{port}; set LOAD_PORT")
    seed = prepare(port)
    env = {**server_env(port), **(extra_env or {})}
    log_path = VAR / f"server-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [str(BIN / "messenger"), "serve", "--port", str(port), "--workers", str(workers)],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    server = Server(port=port, workers=workers, process=process, log_path=log_path, seed=seed)
    server.env = env
    try:
        deadline = time.monotonic() + 60
        while ready(server.base_url, timeout=1) != 200:
            if process.poll() is not None:
                raise SystemExit(f"the server exited ({process.returncode}); see {log_path}")
            if time.monotonic() > deadline:
                raise SystemExit(f"the server is not ready after 60 s; see {log_path}")
            time.sleep(0.3)
        if workers > 1:  # give every worker a moment to finish its start-up
            deadline = time.monotonic() + 20
            while len(server.worker_pids()) < workers and time.monotonic() < deadline:
                time.sleep(0.2)
        if quiet and QUIET_WAIT > 0:
            server.busy_before = wait_for_quiet(QUIET_BELOW, QUIET_WAIT)
            print(
                f"machine CPU busy {server.busy_before:.0f}% over 5 s before the run "
                f"(waited up to {QUIET_WAIT:.0f} s for <= {QUIET_BELOW:.0f}%)",
                flush=True,
            )
        yield server
    finally:
        _stop(process)
        log.close()
        if not keep_database:
            cleanup()


# --- commands ------------------------------------------------------------------------------


def run_locust(args: argparse.Namespace) -> int:
    def locust(host: str, token: str, origin: str, server: Server | None = None) -> int:
        csv_prefix = VAR / "locust"
        VAR.mkdir(parents=True, exist_ok=True)
        command = [
            str(BIN / "locust"),
            "-f",
            str(LOADTESTS / "locustfile.py"),
            "--headless",
            "--host",
            host,
            "--users",
            str(args.users),
            "--spawn-rate",
            str(args.spawn_rate),
            "--run-time",
            args.run_time,
            "--stop-timeout",
            "10",
            "--only-summary",
            "--csv",
            str(csv_prefix),
        ]
        env = {**os.environ, "MESSENGER_WIDGET_TOKEN": token, "MESSENGER_ORIGIN": origin}
        print("$", " ".join(command), flush=True)
        # Locust's own exit code is 1 when any request failed; it is reported, not hidden.
        limit = _seconds(args.run_time) + 120
        pids = server.worker_pids() if server is not None else []
        monitor = Monitor(pids).start()
        result = subprocess.run(command, env=env, check=False, timeout=limit)  # noqa: S603
        machine = monitor.stop()
        print(f"locust exited {result.returncode}; CSV: {csv_prefix}_stats.csv", flush=True)
        print(f"during the run: {describe(machine)}", flush=True)
        print(f"machine CPU busy per second: {machine['busy_series']}", flush=True)
        return result.returncode

    if args.host:
        if urlsplit(args.host).hostname not in LOOPBACK:
            raise SystemExit(f"load only a server you started on this machine, not {args.host}")
        if not args.widget_token:
            raise SystemExit("--host needs --widget-token (or MESSENGER_WIDGET_TOKEN)")
        return locust(args.host, args.widget_token, args.origin or args.host)
    extra = dict(item.split("=", 1) for item in args.env)
    with managed_server(port=args.port, workers=args.workers, extra_env=extra) as server:
        print(f"serving on {server.base_url} with {args.workers} workers", flush=True)
        return locust(server.base_url, server.seed.widget_token, server.origin, server)


def _seconds(text: str) -> int:
    total = 0
    for number, unit in re.findall(r"(\d+)\s*([hms]?)", text):
        total += int(number) * {"h": 3600, "m": 60, "s": 1, "": 1}[unit]
    return total


def run_serve(args: argparse.Namespace) -> int:
    extra = dict(item.split("=", 1) for item in args.env)
    with managed_server(
        port=args.port, workers=args.workers, extra_env=extra, quiet=False
    ) as server:
        print(
            json.dumps(
                {
                    "url": server.base_url,
                    "widget_token": server.seed.widget_token,
                    "pid": server.process.pid,
                    "log": str(server.log_path),
                }
            ),
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt, subprocess.TimeoutExpired):
            server.process.wait(timeout=args.max_seconds)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lc = sub.add_parser("locust", help="a bounded headless Locust run of widget visitors")
    lc.add_argument("--users", type=int, default=int(os.environ.get("LOAD_USERS", "200")))
    lc.add_argument(
        "--spawn-rate", type=float, default=float(os.environ.get("LOAD_SPAWN_RATE", "20"))
    )
    lc.add_argument("--run-time", default=os.environ.get("LOAD_RUN_TIME", "60s"))
    lc.add_argument("--workers", type=int, default=int(os.environ.get("LOAD_WORKERS", "2")))
    lc.add_argument("--port", type=int, default=DEFAULT_PORT)
    lc.add_argument("--host", default=os.environ.get("LOAD_HOST") or None)
    lc.add_argument("--widget-token", default=os.environ.get("MESSENGER_WIDGET_TOKEN") or None)
    lc.add_argument("--origin", default=os.environ.get("MESSENGER_ORIGIN") or None)
    lc.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra server setting"
    )
    lc.set_defaults(func=run_locust)
    sv = sub.add_parser("serve", help="prepare and serve (for manual runs); Ctrl-C stops")
    sv.add_argument("--workers", type=int, default=2)
    sv.add_argument("--port", type=int, default=DEFAULT_PORT)
    sv.add_argument("--max-seconds", type=float, default=3600)
    sv.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra server setting"
    )
    sv.set_defaults(func=run_serve)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
