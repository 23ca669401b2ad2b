"""The report as one SQL statement: every figure is an aggregate computed by PostgreSQL.

``facts`` picks the conversations started in the period (branch scope and filters applied)
with, per conversation, its first operator reply (a ``message`` sent by an operator; notes
and events do not answer anybody) and its first resolution (the ``status:resolved`` event
message that :meth:`ConversationService.change_status` writes). Both come from a LIMIT 1
index-only lookup in a partial index of just those messages (migration 0010:
``ix_messages_operator_replies``, ``ix_messages_resolutions``), so the cost grows with the
number of conversations, not of messages. CSAT per operator is the ratings of the
conversations assigned to them. Everything else — percentiles (``percentile_cont``), the
weekday-by-hour grid and the days in the reader's time zone (``AT TIME ZONE``), CSAT, the
per-operator table — is aggregated from that once-computed set, and the whole report comes
back as one JSON document in one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import TextClause, bindparam, text

from messenger.reports.filters import ReportFilters

_REPORT_SQL = """
WITH first_replies AS (
    SELECT DISTINCT ON (m.conversation_id) m.conversation_id, m.created_at, m.author_id
    FROM messages m
    WHERE m.sender = 'operator' AND m.kind = 'message' AND m.created_at >= :start
    ORDER BY m.conversation_id, m.id
),
first_resolutions AS (
    SELECT m.conversation_id, min(m.created_at) AS created_at
    FROM messages m
    WHERE m.kind = 'event' AND m.body = 'status:resolved' AND m.created_at >= :start
    GROUP BY m.conversation_id
),
facts AS MATERIALIZED (
    SELECT c.id, c.created_at, c.assignee_id,
           r.created_at AS replied_at, r.author_id AS replier_id,
           s.created_at AS resolved_at,
           extract(epoch FROM r.created_at - c.created_at)::float AS frt,
           extract(epoch FROM s.created_at - c.created_at)::float AS rt,
           extract(epoch FROM coalesce(r.created_at, :now) - c.created_at) > :missed_seconds
               AS missed,
           c.created_at AT TIME ZONE :tz AS local_at
    FROM conversations c
    LEFT JOIN first_replies r ON r.conversation_id = c.id
    LEFT JOIN first_resolutions s ON s.conversation_id = c.id
    WHERE c.created_at >= :start AND c.created_at < :end {where}
),
ratings AS MATERIALIZED (
    SELECT cr.rating, f.assignee_id
    FROM facts f
    JOIN csat_ratings cr ON cr.conversation_id = f.id
),
by_assignee AS (
    SELECT assignee_id AS user_id, count(*) AS assigned
    FROM facts WHERE assignee_id IS NOT NULL GROUP BY 1
),
by_replier AS (
    SELECT replier_id AS user_id, count(*) AS answered,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY frt) AS frt_p50
    FROM facts WHERE replier_id IS NOT NULL GROUP BY 1
),
by_rated AS (
    SELECT assignee_id AS user_id, count(*) AS csat_count, avg(rating)::float AS csat_average
    FROM ratings WHERE assignee_id IS NOT NULL GROUP BY 1
)
SELECT json_build_object(
    'summary', (
        SELECT json_build_object(
            'started', count(*),
            'answered', count(replied_at),
            'missed', count(*) FILTER (WHERE missed),
            'resolved', count(resolved_at),
            'frt_p50', percentile_cont(0.5) WITHIN GROUP (ORDER BY frt),
            'frt_p90', percentile_cont(0.9) WITHIN GROUP (ORDER BY frt),
            'rt_p50', percentile_cont(0.5) WITHIN GROUP (ORDER BY rt),
            'rt_p90', percentile_cont(0.9) WITHIN GROUP (ORDER BY rt)
        ) FROM facts
    ),
    'csat', (
        SELECT json_build_object('count', count(*), 'average', avg(rating)::float)
        FROM ratings
    ),
    'csat_distribution', (
        SELECT json_agg(json_build_object('rating', g, 'count', coalesce(n, 0)) ORDER BY g)
        FROM generate_series(1, 5) AS g
        LEFT JOIN (SELECT rating, count(*) AS n FROM ratings GROUP BY rating) d
            ON d.rating = g
    ),
    'heat', (
        SELECT coalesce(json_agg(json_build_object('weekday', wd, 'hour', hr, 'count', n)), '[]')
        FROM (
            SELECT extract(isodow FROM local_at)::int AS wd,
                   extract(hour FROM local_at)::int AS hr, count(*) AS n
            FROM facts GROUP BY 1, 2
        ) h
    ),
    'daily', (
        SELECT coalesce(json_agg(json_build_object(
                   'day', day, 'started', started, 'answered', answered, 'missed', missed)
                   ORDER BY day), '[]')
        FROM (
            SELECT local_at::date AS day, count(*) AS started, count(replied_at) AS answered,
                   count(*) FILTER (WHERE missed) AS missed
            FROM facts GROUP BY 1
        ) d
    ),
    'operators', (
        SELECT coalesce(json_agg(json_build_object(
                   'id', u.id, 'name', u.name,
                   'assigned', coalesce(a.assigned, 0),
                   'answered', coalesce(r.answered, 0),
                   'frt_p50', r.frt_p50,
                   'csat_count', coalesce(s.csat_count, 0),
                   'csat_average', s.csat_average
               ) ORDER BY u.name, u.id), '[]')
        FROM users u
        LEFT JOIN by_assignee a ON a.user_id = u.id
        LEFT JOIN by_replier r ON r.user_id = u.id
        LEFT JOIN by_rated s ON s.user_id = u.id
        WHERE a.user_id IS NOT NULL OR r.user_id IS NOT NULL OR s.user_id IS NOT NULL
    )
) AS report
"""


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose conversations: ``None`` every branch (an admin), else these branch ids."""

    branch_ids: frozenset[int] | None


def report_statement(
    filters: ReportFilters, scope: Scope, *, now: datetime, missed_seconds: int
) -> tuple[TextClause, dict[str, object]]:
    """The statement and its parameters (filters are bound values, never formatted in)."""
    where: list[str] = []
    params: dict[str, object] = {
        "start": filters.start,
        "end": filters.end,
        "now": now,
        "missed_seconds": missed_seconds,
        "tz": filters.timezone,
    }
    expanding: list[str] = []
    if scope.branch_ids is not None:
        where.append("c.branch_id IN :scope")
        params["scope"] = sorted(scope.branch_ids) or [-1]
        expanding.append("scope")
    if filters.inbox_id is not None:
        where.append("c.inbox_id = :inbox_id")
        params["inbox_id"] = filters.inbox_id
    if filters.branch_id is not None:
        where.append("c.branch_id = :branch_id")
        params["branch_id"] = filters.branch_id
    if filters.operator_id is not None:
        where.append("c.assignee_id = :operator_id")
        params["operator_id"] = filters.operator_id
    if filters.label_id is not None:
        where.append(
            "EXISTS (SELECT 1 FROM conversation_labels cl"
            " WHERE cl.conversation_id = c.id AND cl.label_id = :label_id)"
        )
        params["label_id"] = filters.label_id
    sql = _REPORT_SQL.format(where="".join(f" AND {w}" for w in where))
    statement = text(sql).bindparams(*(bindparam(name, expanding=True) for name in expanding))
    return statement, params
