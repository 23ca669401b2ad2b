"""Embedded mode smoke test: no DATABASE_URL / REDIS_URL, SQLite and memory, one process."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.env import TABLES, cli_env, run_cli


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"the server exited with {process.returncode}:\n{log.read_text()}"
            raise AssertionError(msg)
        try:
            response = httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if response.status_code == 200:
            return response
        time.sleep(0.2)
    msg = f"{url} did not answer 200 within 30 s:\n{log.read_text()}"
    raise AssertionError(msg)


def test_embedded_demo_serves_on_sqlite_and_memory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = cli_env(MESSENGER_DATA_DIR=str(data_dir))
    assert "DATABASE_URL" not in env
    assert "REDIS_URL" not in env

    run_cli("db", "upgrade", "--no-prompt", env=env, check=True)
    database = data_dir / "messenger.sqlite3"
    assert database.is_file()

    demo = json.loads(run_cli("demo", "--json", env=env, check=True).stdout)
    assert demo["inbox"]["widget_token"].startswith("wt_")

    with sqlite3.connect(database) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert set(TABLES) <= tables
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (2,)
        assert conn.execute("SELECT widget_token FROM inboxes").fetchall() == [
            (demo["inbox"]["widget_token"],)
        ]

    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "messenger", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        ready = wait_until_ready(f"http://127.0.0.1:{port}/ready", process, log)
        assert ready.json() == {
            "status": "ok",
            "checks": {"database": "ok", "redis": "memory", "live": "memory"},
        }
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        missing = httpx.get(f"http://127.0.0.1:{port}/no-such-page", timeout=5)
        assert missing.status_code == 404
        assert missing.json()["error"] == "not_found"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert process.returncode in {0, -signal.SIGTERM}, log.read_text()
    assert "Application shutdown complete" in log.read_text()
    assert "Traceback" not in log.read_text()
    assert database.is_file()
    # The embedded secret key is made on first start and kept private in the data directory.
    secret = data_dir / "secret_key"
    assert secret.is_file()
    assert secret.stat().st_mode & 0o077 == 0
    assert not (tmp_path / "var").exists()  # nothing landed in the working directory


def test_embedded_serve_refuses_several_workers(tmp_path: Path) -> None:
    env = cli_env(MESSENGER_DATA_DIR=str(tmp_path / "data"))

    result = subprocess.run(
        [sys.executable, "-m", "messenger", "serve", "--port", str(free_port()), "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=False,
    )

    assert result.returncode == 1
    assert "--workers > 1 needs DATABASE_URL and REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_embedded_app_runs_the_job_worker_itself(tmp_path: Path) -> None:
    """No worker process in the embedded mode: a widget message still reaches a webhook."""
    from standardwebhooks.webhooks import Webhook

    from tests.support.receiver import Receiver

    receiver = Receiver().start()
    env = cli_env(
        MESSENGER_DATA_DIR=str(tmp_path / "data"),
        MESSENGER_WEBHOOK_ALLOW_PRIVATE="1",
        MESSENGER_WORKER_POLL_SECONDS="0.2",
    )
    run_cli("db", "upgrade", "--no-prompt", env=env, check=True)
    demo = json.loads(run_cli("demo", "--json", env=env, check=True).stdout)
    created = run_cli(
        "webhook",
        "create",
        "--url",
        receiver.url,
        "--event",
        "message.created",
        "--json",
        env=env,
        check=True,
    )
    secret = json.loads(created.stdout)["secret"]
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "messenger", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/ready", process, log)
        base = f"http://127.0.0.1:{port}"
        origin = {"Origin": "http://127.0.0.1"}
        boot = httpx.post(
            f"{base}/api/widget/bootstrap",
            json={"widget_token": demo["inbox"]["widget_token"]},
            headers=origin,
            timeout=10,
        )
        assert boot.status_code == 200, boot.text
        sent = httpx.post(
            f"{base}/api/widget/messages",
            json={"body": "Hello from SQLite", "client_msg_id": "embedded-1"},
            headers={**origin, "Authorization": f"Bearer {boot.json()['session_token']}"},
            timeout=10,
        )
        assert sent.status_code == 201, sent.text
        deadline = time.monotonic() + 20
        while not receiver.delivered() and time.monotonic() < deadline:
            time.sleep(0.1)
        [request] = receiver.delivered()
        event = Webhook(secret).verify(request.body, request.headers)
        assert event["data"]["message"]["body"] == "Hello from SQLite"
    finally:
        receiver.stop()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    assert "Traceback" not in log.read_text()
