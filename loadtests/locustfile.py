"""Widget visitors and dashboard operators under load (Locust, FastHttpUser).

Each simulated visitor bootstraps once (with the ``Origin`` of a page on the inbox's allowed
domains), then sends messages (unique ``client_msg_id``), polls ``GET /api/widget/messages``
with the highest id it has seen, says it is typing and marks what it has read.

Each simulated operator (``DashboardOperator``, ``LOAD_OPERATORS`` of them, 0 for none)
signs in through the login form (CSRF token from the form, as a browser), then works in the
unified messenger as htmx does (``HX-Request``, the CSRF token in ``x-csrftoken``): opens
the list (page and partial, each view), opens conversations, replies (one
``client_msg_id`` per reply), assigns them to itself and changes their status.

Every answer with a 5xx status is counted per call name and written to ``LOAD_5XX_FILE``
(JSON) when the run ends: the harness prints them next to the latencies.

Settings (environment):

- ``MESSENGER_WIDGET_TOKEN`` (required): the inbox's widget token (``wt_…``).
- ``MESSENGER_ORIGIN``: the page origin sent as ``Origin`` (default: the ``--host``).
- ``LOAD_WAIT_MIN`` / ``LOAD_WAIT_MAX``: seconds between one visitor's calls (default 1 to 3).
- ``LOAD_TASK_WEIGHTS``: ``send,poll,typing,read`` (default ``2,6,2,1``).
- ``LOAD_OPERATORS``: how many operators (default 10); ``LOAD_OPERATOR_EMAILS`` (comma
  separated, used in turn) and ``LOAD_OPERATOR_PASSWORD``: their accounts (the harness
  creates them); ``LOAD_OPERATOR_WAIT_MIN`` / ``_MAX``: seconds between an operator's
  actions (default 1 to 3); ``LOAD_OPERATOR_ARRIVAL_SECONDS``: the span over which they
  arrive and sign in, each at a random moment (default 10, the visitors' ramp at the
  default users and spawn rate).
- ``LOAD_5XX_FILE``: where the 5xx counts go (default: not written).
- ``LOAD_TRACE_FILE``: when set, every request's start time, name, status and latency are
  written there (CSV) at the end of the run: latency per second of the run, not only
  per run (``loadtests/trace_summary.py``).

The server must allow this much traffic from one IP: raise the ``MESSENGER_WIDGET_*`` limits
and keep ``MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS`` ≤ ``LOAD_WAIT_MIN`` (``harness.py``
starts such a server). Run it through the harness (``make load``) or directly::

    MESSENGER_WIDGET_TOKEN=wt_… locust -f loadtests/locustfile.py --headless \\
        --host http://127.0.0.1:8765 --users 200 --spawn-rate 20 --run-time 60s

Only point it at a server you started yourself on 127.0.0.1.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import uuid
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import gevent  # type: ignore[import-untyped]
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

OPERATORS = int(os.environ.get("LOAD_OPERATORS", "10"))
OPERATOR_EMAILS = [e for e in os.environ.get("LOAD_OPERATOR_EMAILS", "").split(",") if e]
OPERATOR_PASSWORD = os.environ.get("LOAD_OPERATOR_PASSWORD", "")
OPERATOR_WAIT_MIN = float(os.environ.get("LOAD_OPERATOR_WAIT_MIN", "1"))
OPERATOR_WAIT_MAX = float(os.environ.get("LOAD_OPERATOR_WAIT_MAX", "3"))
#: Operators start their shift over this many seconds, each at a random moment in it (as
#: the visitors arrive at the spawn rate): Locust starts ``fixed_count`` users together,
#: whatever the spawn rate, and ten sign-ins in the same 40 ms is no real morning.
OPERATOR_ARRIVAL = float(os.environ.get("LOAD_OPERATOR_ARRIVAL_SECONDS", "10"))
REPLIES = [
    "Здравствуйте! Сейчас проверю.",
    "Yes, we deliver to Kazan in 2-3 days.",
    "Оплата картой при получении возможна.",
    "Your order 48213 ships today.",
]
_operator_counter = itertools.count()
_CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')
_CONVERSATION = re.compile(r'id="conv-([0-9a-f-]{36})"')

#: 5xx answers per call name in this run.
SERVER_ERRORS: Counter[str] = Counter()


@events.request.add_listener
def _count_5xx(name: str, response: Any = None, **_: Any) -> None:
    status = getattr(response, "status_code", 0) or 0
    if status >= 500:
        SERVER_ERRORS[name] += 1


TRACE_FILE = os.environ.get("LOAD_TRACE_FILE", "")
#: (start time s, name, status, latency ms) of every request, when LOAD_TRACE_FILE is set.
TRACE: list[tuple[float, str, int, float]] = []


@events.request.add_listener
def _trace(
    name: str, response_time: float, start_time: float = 0.0, response: Any = None, **_: Any
) -> None:
    if TRACE_FILE:
        status = getattr(response, "status_code", 0) or 0
        TRACE.append((start_time, name, status, response_time))


@events.test_stop.add_listener
def _write_trace(**_: Any) -> None:
    if TRACE_FILE:
        with open(TRACE_FILE, "w", encoding="utf-8") as out:
            out.writelines(f"{t:.3f},{n},{s},{ms:.1f}\n" for t, n, s, ms in TRACE)


@events.test_stop.add_listener
def _write_5xx(**_: Any) -> None:
    path = os.environ.get("LOAD_5XX_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(dict(SERVER_ERRORS), out)


@events.test_start.add_listener
def _check_settings(environment: object, **_: object) -> None:
    if not WIDGET_TOKEN:
        raise SystemExit("set MESSENGER_WIDGET_TOKEN to the inbox's widget token")
    host = urlsplit(getattr(environment, "host", "") or "").hostname
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit(f"load only a server you started on this machine, not {host!r}")
    if OPERATORS and not (OPERATOR_EMAILS and OPERATOR_PASSWORD):
        raise SystemExit("set LOAD_OPERATOR_EMAILS and LOAD_OPERATOR_PASSWORD, or LOAD_OPERATORS=0")


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


class DashboardOperator(FastHttpUser):
    """An operator in the unified messenger, as the browser and htmx talk to it."""

    fixed_count = OPERATORS
    wait_time = between(OPERATOR_WAIT_MIN, OPERATOR_WAIT_MAX)
    concurrency = 1
    network_timeout = 30.0
    connection_timeout = 10.0

    csrf: str = ""
    email: str = ""
    signed_in: bool = False
    conversations: list[str]
    current: str | None = None

    def _htmx(self) -> dict[str, str]:
        return {"HX-Request": "true", "x-csrftoken": self.csrf, "Accept-Language": "ru-RU"}

    def on_start(self) -> None:
        self.conversations = []
        self.signed_in = False
        self.email = OPERATOR_EMAILS[next(_operator_counter) % len(OPERATOR_EMAILS)]
        gevent.sleep(random.uniform(0, OPERATOR_ARRIVAL))
        self._sign_in()

    def _sign_in(self) -> None:
        """The login form, then the unified messenger. A refused sign-in is counted and tried
        again at this operator's next turn (a stopped user would be respawned at once)."""
        with self.client.get("/login", name="login (form)", catch_response=True) as page:
            match = _CSRF_FIELD.search(page.text or "")
            if page.status_code != 200 or match is None:
                page.failure(f"login form {page.status_code}")
                return
        with self.client.post(
            "/login",
            data={
                "_csrf_token": match.group(1),
                "email": self.email,
                "password": OPERATOR_PASSWORD,
            },
            name="sign in",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 303:
                response.failure(f"sign in {response.status_code}: {response.text[:200]}")
                return
        self.signed_in = True
        self._list_page()

    def _ready(self) -> bool:
        if not self.signed_in:
            self._sign_in()
            return False
        return True

    def _remember(self, html: str) -> None:
        found = _CONVERSATION.findall(html)
        if found:
            self.conversations = found[:50]

    def _list_page(self, query: str = "") -> None:
        with self.client.get(
            f"/conversations{query}", name="list (page)", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"list {response.status_code}")
                return
            text = response.text or ""
            # The page's forms carry the token htmx sends in x-csrftoken (<body hx-headers>).
            match = _CSRF_FIELD.search(text)
            if match:
                self.csrf = match.group(1)
            self._remember(text)

    def _pick(self) -> str | None:
        if not self._ready():
            return None
        if self.current is None or random.random() < 0.3:
            self.current = random.choice(self.conversations) if self.conversations else None
        return self.current

    def _post(self, path: str, data: dict[str, str], name: str, ok: int = 200) -> None:
        with self.client.post(
            path, data=data, headers=self._htmx(), name=name, catch_response=True
        ) as response:
            # 4xx from a race between operators (e.g. assigned meanwhile) is not a failure
            # of the server; anything else but ``ok`` is.
            if response.status_code != ok and not 400 <= response.status_code < 500:
                response.failure(f"{name} {response.status_code}: {response.text[:200]}")

    @task(3)
    def list_partial(self) -> None:
        if not self._ready():
            return
        view = random.choice(["all", "mine", "unassigned"])
        status = random.choice(["open", "open", "pending", "any"])
        with self.client.get(
            f"/conversations?view={view}&status={status}",
            headers=self._htmx(),
            name="list (partial)",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"list partial {response.status_code}")
                return
            if view == "all" and status == "open":
                self._remember(response.text or "")

    @task(1)
    def list_page(self) -> None:
        if self._ready():
            self._list_page()

    @task(3)
    def open_conversation(self) -> None:
        if not self._ready():
            return
        conversation = self._pick()
        if conversation is None:
            self._list_page()
            return
        with self.client.get(
            f"/conversations/{conversation}", name="open", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"open {response.status_code}")

    @task(3)
    def reply(self) -> None:
        conversation = self._pick()
        if conversation is None:
            return
        self._post(
            f"/conversations/{conversation}/messages",
            {
                "body": random.choice(REPLIES),
                "kind": "message",
                "client_msg_id": f"op-{uuid.uuid4().hex}",
            },
            "reply",
        )

    @task(1)
    def assign(self) -> None:
        conversation = self._pick()
        if conversation is not None:
            self._post(f"/conversations/{conversation}/assign-me", {}, "assign")

    @task(1)
    def change_status(self) -> None:
        conversation = self._pick()
        if conversation is not None:
            status = random.choice(["pending", "open"])
            self._post(f"/conversations/{conversation}/status", {"status": status}, "status")
