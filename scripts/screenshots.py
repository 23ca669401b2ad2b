"""Regenerate the README's screenshots: `make screenshots`.

Starts a throwaway embedded server (SQLite, in-memory Redis stand-ins) on a free port,
seeds the demo, lets two visitors write through the real Widget API, signs in as the demo
admin in Russian and photographs the main pages with Debian's chromium into docs/screenshots/
(one of them, phone-conversation.png, in the phone layout at 390x844).

The Reports page needs PostgreSQL (its figures are PostgreSQL aggregates): with
``SCREENSHOTS_DATABASE_URL`` set to an empty, throwaway PostgreSQL database (and Redis on
``SCREENSHOTS_REDIS_URL``, default redis://127.0.0.1:6379/0) the server runs on them and
reports.png is taken too; without it, in the embedded mode, reports.png is left as it is.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(url: str, body: dict | None = None, token: str | None = None) -> dict:
    headers = {"Origin": "http://localhost", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers=headers, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("MESSENGER_") and k not in {"DATABASE_URL", "REDIS_URL"}
        }
        env.update(
            MESSENGER_DATA_DIR=data_dir, MESSENGER_PUBLIC_URL=base, MESSENGER_DEFAULT_LOCALE="ru"
        )
        postgres = os.environ.get("SCREENSHOTS_DATABASE_URL")
        if postgres:
            env.update(
                DATABASE_URL=postgres,
                REDIS_URL=os.environ.get("SCREENSHOTS_REDIS_URL", "redis://127.0.0.1:6379/0"),
                MESSENGER_REDIS_PREFIX=f"screenshots-{port}",
                MESSENGER_SECRET_KEY=os.urandom(32).hex(),
            )
        messenger = [sys.executable, "-m", "messenger"]
        subprocess.run(
            [*messenger, "db", "upgrade", "--no-prompt"], env=env, check=True, capture_output=True
        )
        demo = json.loads(
            subprocess.run(
                [*messenger, "demo", "--json"], env=env, check=True, capture_output=True, text=True
            ).stdout
        )
        server = subprocess.Popen(
            [*messenger, "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"{base}/health", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            api = f"{base}/api/widget"
            token = demo["inbox"]["widget_token"]
            first = call(f"{api}/bootstrap", {"widget_token": token, "locale": "ru"})
            call(
                f"{api}/messages",
                {
                    "body": "Здравствуйте! Доставка в Казань возможна?",
                    "client_msg_id": "s1",
                    "page_url": "https://shop.example/ru/delivery",
                },
                first["session_token"],
            )
            second = call(f"{api}/bootstrap", {"widget_token": token, "locale": "ru"})
            call(
                f"{api}/offline",
                {
                    "name": "Анна",
                    "email": "anna@example.org",
                    "body": "Перезвоните мне, пожалуйста",
                    "client_msg_id": "s2",
                },
                second["session_token"],
            )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1400, "height": 820}, locale="ru-RU")
                page.goto(f"{base}/login")
                page.screenshot(path=str(OUT / "login.png"))
                page.fill("input[name=email]", demo["admin"]["email"])
                page.fill("input[name=password]", demo["admin"]["password"])
                page.click("button[type=submit]")
                page.wait_for_url("**/conversations")
                page.screenshot(path=str(OUT / "unified-messenger.png"))
                page.click(".conversation-item >> nth=1")
                page.wait_for_selector("#composer")
                page.click("#controls button")  # Назначить меня
                page.fill("#composer textarea", "Да, доставим за два дня. Оформить заказ?")
                page.click("#composer button[type=submit]")
                page.check("input[value=note]")
                page.fill("#composer textarea", "Клиент постоянный, предложить скидку")
                page.click("#composer button[type=submit]")
                page.wait_for_timeout(800)
                page.screenshot(path=str(OUT / "conversation.png"))
                conversation_url = page.url
                page.goto(f"{base}/admin/inboxes")
                page.click("table a")
                page.screenshot(path=str(OUT / "inbox-settings.png"))
                if postgres:
                    # The last 7 days: the two conversations above; charts drawn by Chart.js.
                    page.goto(f"{base}/reports")
                    page.wait_for_function(
                        "() => window.Chart && window.Chart.getChart('chart-daily')"
                    )
                    page.screenshot(path=str(OUT / "reports.png"), full_page=True)
                # The phone layout (below 700 px): the same conversation, one column.
                phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="ru-RU")
                phone.goto(f"{base}/login")
                phone.fill("input[name=email]", demo["admin"]["email"])
                phone.fill("input[name=password]", demo["admin"]["password"])
                phone.click("button[type=submit]")
                phone.wait_for_url("**/conversations")
                phone.goto(conversation_url)
                phone.wait_for_selector("#composer")
                phone.wait_for_timeout(500)
                phone.screenshot(path=str(OUT / "phone-conversation.png"))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"screenshots written to {OUT.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
