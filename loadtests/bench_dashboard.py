"""The unified messenger at scale: p50 / p95 of what an operator does, on 100k conversations.

    python loadtests/bench_dashboard.py                       # make bench-dashboard
    python loadtests/bench_dashboard.py --conversations 20000 --repeat 10

A throwaway database (``LOAD_DB_NAME``, default ``messenger_dash``, on ``LOAD_ADMIN_DSN``)
is created and migrated by ``harness.managed_server``, filled by ``seed_scale.py``, served
by one ``messenger serve`` worker (port ``LOAD_PORT``, default 8766), and dropped at the end.
An admin and a one-branch operator sign in (httpx) and each call is timed ``--repeat``
times, with varied inputs: the list (each view and status), list pages 2-4, search by a
word, a phrase, an e-mail and a phone fragment, opening a conversation (as the list's link
does), its history page, the counters and the live list's refresh. Exit status 1 when a
call fails or any p95 is over ``--budget-ms`` (200).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field

os.environ.setdefault("LOAD_DB_NAME", "messenger_dash")
os.environ.setdefault("LOAD_PORT", "8766")
os.environ.setdefault("LOAD_QUIET_WAIT", "30")

import asyncpg
import harness
import httpx
import seed_scale

VIEWS = ("mine", "unassigned", "all")
STATUSES = ("open", "pending", "resolved", "closed", "any")
WORDS = ("доставки", "deliveries", "возврат", "refunds", "оплату", "payment")
PHRASES = ('"сроки доставки"', '"express delivery"', '"личный кабинет"', '"wrong door"')
HX = {"HX-Request": "true"}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}
_NEXT = re.compile(r"""<li class="more">.*?hx-vals='([^']*)'""", re.S)
_CONV = re.compile(r'id="conv-([0-9a-f-]{36})"')
_CURSOR = re.compile(r'data-cursor="([^"]+)"')
_SINCE = re.compile(r'data-since="([^"]+)"')


@dataclass
class Timings:
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def add(self, case: str, who: str, ms: float) -> None:
        self.samples.setdefault(case, {}).setdefault(who, []).append(ms)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def sign_in(client: httpx.Client, email: str, password: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    if page.status_code != 200 or token is None:
        raise SystemExit(f"no sign-in form: {page.status_code}")
    answer = client.post(
        "/login",
        data={"_csrf_token": token.group(1), "email": email, "password": password},
        follow_redirects=False,
    )
    if answer.status_code != 303:
        raise SystemExit(f"{email} could not sign in: {answer.status_code}")


class Desk:
    """One signed-in user's calls, each timed."""

    def __init__(self, who: str, client: httpx.Client, timings: Timings) -> None:
        self.who = who
        self.client = client
        self.timings = timings

    def get(self, case: str, path: str, params: dict[str, str], headers: dict[str, str]) -> str:
        started = time.perf_counter()
        response = self.client.get(path, params=params, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            self.timings.failures.append(
                f"{self.who} {case} {path} {params}: {response.status_code}"
            )
        self.timings.add(case, self.who, elapsed)
        return response.text


def run_desk(desk: Desk, repeat: int, samples: dict[str, list[str]]) -> dict[str, int]:
    found: dict[str, int] = {}
    opened: list[str] = []
    for _ in range(repeat):
        for view in VIEWS:
            for status in STATUSES:
                html = desk.get(
                    f"list {view}/{status}",
                    "/conversations",
                    {"view": view, "status": status},
                    HX,
                )
                if view == "all" and status == "open":
                    opened = _CONV.findall(html)
                    page = html
                    for _ in range(3):  # pages 2, 3, 4 by the "more" link
                        link = _NEXT.search(page)
                        if link is None:
                            break
                        params = {"view": view, "status": status, **json.loads(link.group(1))}
                        page = desk.get("list page 2-4", "/conversations", params, HX)
                    cursors = _CURSOR.findall(html)
                    since = _SINCE.search(html)
                    if cursors and since:
                        params = {
                            "status": status,
                            "part": "top",
                            "after": cursors[0],
                            "bottom": cursors[-1],
                            "since": since.group(1),
                        }
                        desk.get("live list refresh", "/conversations", params, HX)
    for n in range(repeat):
        for case, texts in samples.items():
            text = texts[n % len(texts)]
            html = desk.get(case, "/conversations", {"q": text, "status": "any"}, HX)
            found[f"{case}: {text}"] = len(_CONV.findall(html))
        desk.get("counters", "/conversations", {"part": "counts"}, HX)
        if opened:
            conversation = opened[n % len(opened)]
            html = desk.get("open a conversation", f"/conversations/{conversation}", {}, BOOSTED)
            ids = re.findall(r'data-id="(\d+)"', html)
            if ids:
                before = {"before": max(ids, key=int)}
                path = f"/conversations/{conversation}/history"
                desk.get("history page", path, before, HX)
    return found


async def search_samples(dsn: str, branch_id: int) -> dict[str, list[str]]:
    """E-mails and phone fragments of visitors the one-branch operator may see."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT v.email, v.phone FROM visitors v JOIN conversations c ON c.visitor_id = v.id"
            " WHERE c.branch_id = $1 AND v.email IS NOT NULL AND v.phone IS NOT NULL"
            " ORDER BY c.last_activity_at LIMIT 40",
            branch_id,
        )
    finally:
        await conn.close()
    return {
        "search a word": list(WORDS),
        "search a phrase": list(PHRASES),
        "search an e-mail": [r["email"] for r in rows[::2]],
        "search a phone fragment": [r["phone"][3:10] for r in rows[1::2]],
    }


def report(timings: Timings, budget: float, who: list[str]) -> bool:
    head = f"{'call':<28}" + "".join(f"{w + ' p50':>16}{w + ' p95':>16}" for w in who) + "   n"
    print(head)
    print("-" * len(head))
    within = True
    for case, by_who in timings.samples.items():
        line = f"{case:<28}"
        count = 0
        for name in who:
            values = by_who.get(name, [])
            if not values:
                line += f"{'-':>16}{'-':>16}"
                continue
            p95 = percentile(values, 0.95)
            flag = " !" if p95 > budget else "  "
            within = within and p95 <= budget
            line += f"{statistics.median(values):>16.1f}{p95:>14.1f}{flag}"
            count = len(values)
        print(line + f"{count:>4}")
    return within


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--budget-ms", type=float, default=200.0)
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    dsn = harness.server_env(harness.DEFAULT_PORT)["DATABASE_URL"].replace("+asyncpg", "")
    with harness.managed_server(
        port=harness.DEFAULT_PORT, workers=1, keep_database=args.keep_database
    ) as server:
        started = time.monotonic()
        seeded = asyncio.run(seed_scale.seed(dsn, args.conversations))
        print(
            f"seeded {seeded.conversations} conversations, {seeded.messages} messages "
            f"in {seeded.seconds} s",
            flush=True,
        )
        samples = asyncio.run(search_samples(dsn, seeded.branch_ids[0]))
        timings = Timings()
        found: dict[str, dict[str, int]] = {}
        users: list[tuple[str, str]] = [
            ("admin", seeded.admin_email),
            ("operator", seeded.operator_email),
        ]
        for who, email in users:
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                sign_in(client, email, seeded.password)
                client.get("/conversations")  # the first request of a session warms up
                found[who] = run_desk(Desk(who, client, timings), args.repeat, samples)
        print(f"measured in {time.monotonic() - started:.0f} s (seed included)\n", flush=True)
    within = report(timings, args.budget_ms, [who for who, _ in users])
    print("\nconversations found (first page) per search:")
    for who, counts in found.items():
        print(f"  {who}: " + ", ".join(f"{k} -> {v}" for k, v in counts.items()))
    for failure in timings.failures[:20]:
        print("FAILED:", failure)
    if timings.failures or not within:
        print(
            f"\n{len(timings.failures)} failed calls; every p95 within {args.budget_ms} ms: {within}"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
