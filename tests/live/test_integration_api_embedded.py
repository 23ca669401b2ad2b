"""The integration API in embedded mode (SQLite, memory state): a token from the CLI lists,
searches, answers and finds contacts on the one-process demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.live.test_embedded import free_port, wait_until_ready
from tests.support.env import cli_env, run_cli


def test_the_api_works_on_sqlite_and_memory(tmp_path: Path) -> None:
    env = cli_env(MESSENGER_DATA_DIR=str(tmp_path / "data"), MESSENGER_DEFAULT_LOCALE="en")
    run_cli("db", "upgrade", "--no-prompt", env=env, check=True)
    demo = json.loads(run_cli("demo", "--json", env=env, check=True).stdout)
    widget_token = demo["inbox"]["widget_token"]
    token = json.loads(
        run_cli("api-token", "create", "--name", "CRM", "--json", env=env, check=True).stdout
    )["token"]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
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
        wait_until_ready(f"{url}/ready", process, log)
        origin = {"Origin": f"http://localhost:{port}"}
        with httpx.Client(base_url=url, timeout=10) as client:
            boot = client.post(
                "/api/widget/bootstrap", json={"widget_token": widget_token}, headers=origin
            )
            assert boot.status_code == 200, boot.text
            visitor = {**origin, "Authorization": f"Bearer {boot.json()['session_token']}"}
            sent = client.post(
                "/api/widget/offline",
                json={
                    "name": "Anna",
                    "email": "anna@example.com",
                    "body": "Where is my parcel?",
                    "client_msg_id": "w-1",
                },
                headers=visitor,
            )
            assert sent.status_code == 201, sent.text
            cid = sent.json()["conversation_id"]

            api = {"Authorization": f"Bearer {token}"}
            listed = client.get("/api/v1/conversations", headers=api).json()
            assert cid in [c["id"] for c in listed["items"]]
            found = client.get("/api/v1/conversations", params={"q": "parcel"}, headers=api)
            assert [c["id"] for c in found.json()["items"]] == [cid]
            reply = {"body": "Today!", "client_msg_id": "crm-1"}
            first = client.post(f"/api/v1/conversations/{cid}/messages", json=reply, headers=api)
            again = client.post(f"/api/v1/conversations/{cid}/messages", json=reply, headers=api)
            assert (first.status_code, again.status_code) == (201, 200)
            contacts = client.get(
                "/api/v1/contacts", params={"email": "ANNA@example.com"}, headers=api
            ).json()
            assert [c["conversations"][0]["id"] for c in contacts["items"]] == [cid]
            polled = client.get("/api/widget/messages", params={"after": 0}, headers=visitor)
            assert "Today!" in [m["body"] for m in polled.json()["messages"]]
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    assert "Traceback" not in log.read_text()
