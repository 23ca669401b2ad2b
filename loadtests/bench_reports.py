"""The Reports page's query on the scale data set: a 90-day report in ≤ 1 s.

    python loadtests/seed_scale.py --dsn postgresql://postgres@127.0.0.1:5432/messenger_dash
    python loadtests/bench_reports.py --dsn postgresql://postgres@127.0.0.1:5432/messenger_dash

On a database filled by ``seed_scale.py`` (100k conversations, 1M messages), this first adds
what the seed has not got and a report reads (once; skipped when present): a
``status:resolved`` event for every resolved or closed conversation (an hour after it
started, by its assignee) and a CSAT rating for two of three of them. Then it times
:func:`messenger.reports.service.build_report` — the page's one statement — for the admin
and for a one-branch operator, over the last 90 days in Europe/Moscow, ``--repeat`` times,
and prints min / p50 / max in ms (``--explain``: the plan with EXPLAIN ANALYZE, once).
Exit status 1 when a p50 is over ``--budget-ms`` (1000).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from messenger.db.models import User
from messenger.reports.filters import ReportFilters
from messenger.reports.queries import report_statement
from messenger.reports.service import build_report, scope_of

EXTRA = (
    """
    INSERT INTO messages (conversation_id, sender, kind, author_id, body, created_at, updated_at)
    SELECT c.id, 'system', 'event', c.assignee_id, 'status:resolved',
           c.created_at + interval '1 hour', c.created_at + interval '1 hour'
    FROM conversations c WHERE c.status IN ('resolved', 'closed')
    """,
    """
    INSERT INTO csat_ratings (conversation_id, resolution_message_id, rating, created_at, updated_at)
    SELECT m.conversation_id, m.id, 1 + (m.id % 5), m.created_at, m.created_at
    FROM messages m WHERE m.kind = 'event' AND m.body = 'status:resolved' AND m.id % 3 <> 0
    """,
    "ANALYZE messages",
    "ANALYZE csat_ratings",
)


async def _prepare(session: AsyncSession) -> None:
    present = await session.scalar(
        text("SELECT count(*) FROM messages WHERE kind = 'event' AND body = 'status:resolved'")
    )
    if present:
        return
    for sql in EXTRA:
        await session.execute(text(sql))
    await session.commit()


async def main(args: argparse.Namespace) -> int:
    engine = create_async_engine(args.dsn.replace("postgresql://", "postgresql+asyncpg://"))
    today = datetime.now(UTC).date()
    filters = ReportFilters(
        date_from=today - timedelta(days=89), date_to=today, timezone="Europe/Moscow"
    )
    failed = False
    async with AsyncSession(engine, expire_on_commit=False) as session:
        await _prepare(session)
        for email in ("admin@scale.local", "operator1@scale.local"):
            user = await session.scalar(select(User).where(User.email == email))
            assert user is not None, f"no {email}: seed the database with seed_scale.py"
            scope = scope_of(user)
            if args.explain and scope.branch_ids is None:  # the admin's plan (no IN list)
                statement, params = report_statement(
                    filters, scope, now=datetime.now(UTC), missed_seconds=900
                )
                plan = await session.execute(
                    text("EXPLAIN (ANALYZE, BUFFERS) " + statement.text), params
                )
                print("\n".join(row[0] for row in plan))
            times = []
            report = None
            for _ in range(args.repeat):
                start = time.perf_counter()
                report = await build_report(session, user, filters, missed_after_minutes=15)
                times.append((time.perf_counter() - start) * 1000)
            assert report is not None
            p50 = statistics.median(times)
            failed |= p50 > args.budget_ms
            print(
                f"{email}: {report.summary.started} conversations, {report.csat_count} ratings;"
                f" 90-day report min {min(times):.0f} ms, p50 {p50:.0f} ms, max {max(times):.0f} ms"
            )
    await engine.dispose()
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/messenger_dash")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--budget-ms", type=float, default=1000.0)
    parser.add_argument("--explain", action="store_true")
    sys.exit(asyncio.run(main(parser.parse_args())))
