"""Widget visitors under load (Locust, FastHttpUser).

Each simulated visitor bootstraps once (with the ``Origin`` of a page on the inbox's allowed
domains), then sends messages (unique ``client_msg_id``), polls ``GET /api/widget/messages``
with the highest id it has seen, says it is typing and marks what it has read.

Settings (environment):

- ``MESSENGER_WIDGET_TOKEN`` (required): the inbox's widget token (``wt_…``).
- ``MESSENGER_ORIGIN``: the page origin sent as ``Origin`` (default: the ``--host``).
- ``LOAD_WAIT_MIN`` / ``LOAD_WAIT_MAX``: seconds between one visitor's calls (default 1 to 3).
- ``LOAD_TASK_WEIGHTS``: ``send,poll,typing,read`` (default ``2,6,2,1``).

The server must allow this much traffic from one IP: raise the ``MESSENGER_WIDGET_*`` limits
and keep ``MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS`` ≤ ``LOAD_WAIT_MIN`` (``harness.py``
starts such a server). Run it through the harness (``make load``) or directly::

    MESSENGER_WIDGET_TOKEN=wt_… locust -f loadtests/locustfile.py --headless \\
        --host http://127.0.0.1:8765 --users 200 --spawn-rate 20 --run-time 60s

Only point it at a server you started yourself on 127.0.0.1.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from urllib.parse import urlsplit

from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

WIDGET_TOKEN = os.environ.get("MESSENGER_WIDGET_TOKEN", "")
ORIGIN = os.environ.get("MESSENGER_ORIGIN", "")
WAIT_MIN = float(os.environ.get("LOAD_WAIT_MIN", "1"))
WAIT_MAX = float(os.environ.get("LOAD_WAIT_MAX", "3"))
_weights = [int(w) for w in os.environ.get("LOAD_TASK_WEIGHTS", "2,6,2,1").split(",")]
SEND_W, POLL_W, TYPING_W, READ_W = [*_weights, 0, 0, 0, 0][:4]

PHRASES = [
    "Hello, is anybody there?",
    "Do you deliver to Kazan?",
    "What is the price of the blue one?",
    "Can I pay by card on delivery?",
    "My order number is 48213, where is it?",
    "Thank you!",
]
_counter = itertools.count()


@events.test_start.add_listener
def _check_settings(environment: object, **_: object) -> None:
    if not WIDGET_TOKEN:
        raise SystemExit("set MESSENGER_WIDGET_TOKEN to the inbox's widget token")
    host = urlsplit(getattr(environment, "host", "") or "").hostname
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit(f"load only a server you started on this machine, not {host!r}")


class WidgetVisitor(FastHttpUser):
    wait_time = between(WAIT_MIN, WAIT_MAX)
    # one connection per visitor, like a browser tab talking to the chat server
    concurrency = 1
    network_timeout = 30.0
    connection_timeout = 10.0

    session_token: str | None = None
    last_id: int = 0
    has_conversation: bool = False

    def _headers(self, *, auth: bool = True) -> dict[str, str]:
        headers = {"Origin": ORIGIN or self.host, "Accept-Language": "ru-RU,ru;q=0.9"}
        if auth and self.session_token:
            headers["Authorization"] = f"Bearer {self.session_token}"
        return headers

    def on_start(self) -> None:
        n = next(_counter)
        with self.client.post(
            "/api/widget/bootstrap",
            json={
                "widget_token": WIDGET_TOKEN,
                "page_url": f"{ORIGIN or self.host}/catalog/{n % 50}",
                "locale": "ru-RU",
            },
            headers=self._headers(auth=False),
            name="bootstrap",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"bootstrap {response.status_code}: {response.text[:200]}")
                self.stop()  # a visitor without a session has nothing to do
                return
            self.session_token = response.json()["session_token"]
        # The first message starts the visitor's conversation (more writes than later ones).
        self._send(name="send (first)")

    def _send(self, name: str = "send") -> None:
        with self.client.post(
            "/api/widget/messages",
            json={"body": random.choice(PHRASES), "client_msg_id": uuid.uuid4().hex},
            headers=self._headers(),
            name=name,
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"send {response.status_code}: {response.text[:200]}")
                return
            self.last_id = max(self.last_id, response.json()["id"])
            self.has_conversation = True

    @task(SEND_W)
    def send(self) -> None:
        self._send()

    @task(POLL_W)
    def poll(self) -> None:
        with self.client.get(
            f"/api/widget/messages?after={self.last_id}",
            headers=self._headers(),
            name="poll",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"poll {response.status_code}: {response.text[:200]}")
                return
            for message in response.json()["messages"]:
                self.last_id = max(self.last_id, message["id"])

    @task(TYPING_W)
    def typing(self) -> None:
        with self.client.post(
            "/api/widget/typing",
            json={"typing": random.random() < 0.7},
            headers=self._headers(),
            name="typing",
            catch_response=True,
        ) as response:
            if response.status_code != 204:
                response.failure(f"typing {response.status_code}: {response.text[:200]}")

    @task(READ_W)
    def read(self) -> None:
        with self.client.post(
            "/api/widget/read",
            json={"up_to_id": self.last_id},
            headers=self._headers(),
            name="read",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"read {response.status_code}: {response.text[:200]}")
