"""Prometheus metrics beyond Litestar's per-route requests and latency (``/metrics``).

With several processes, set ``PROMETHEUS_MULTIPROC_DIR`` to a shared empty directory so
``/metrics`` sums every process (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

OPEN_STREAMS = Gauge(
    "messenger_open_streams",
    "Server-Sent Event streams open now, by audience (visitor, staff).",
    ["audience"],
    multiprocess_mode="livesum",
)
MESSAGES = Counter(
    "messenger_messages_total",
    "Messages written, by sender (visitor, operator, system) and kind (message, note, event).",
    ["sender", "kind"],
)
WIDGET_REFUSALS = Counter(
    "messenger_widget_refusals_total",
    "Widget API calls refused: 403 by origin reason, 429 by limit, 428 challenges.",
    ["status", "reason"],
)
WIDGET_PATH = Counter(
    "messenger_widget_path_total",
    "Widget calls (send, poll, bootstrap, typing, read) by path: 'hot' (one statement), "
    "'first' (a new visitor's first message in one statement) or 'general' (the ORM "
    "services: a first message, attachments, a retry, a delivery to stamp, a read that "
    "lost a race).",
    ["call", "path"],
)
FAST_LANE = Counter(
    "messenger_widget_fast_lane_total",
    "Widget sends and polls met by the ASGI fast lane (messenger.widget.fastlane), by outcome: "
    "'served' (answered 2xx there), 'refused' (an error answered there by the app's exception "
    "handlers) or 'handed_over' (given to the full Litestar stack: a request it does not "
    "fully understand).",
    ["call", "outcome"],
)

# Per request, by route template (recorded by messenger.logs.RequestLogMiddleware, which
# times each request once for its log line and these; Litestar's Prometheus middleware did
# the same with a second timer, a Request object and a wrapped send per request).
_REQUEST_LABELS = ["method", "path", "status_code", "app_name"]
REQUESTS = Counter("messenger_requests", "Total requests", _REQUEST_LABELS)
REQUEST_ERRORS = Counter("messenger_requests_error", "Total errors in requests", _REQUEST_LABELS)
REQUEST_DURATION = Histogram(
    "messenger_request_duration_seconds", "Request duration, in seconds", _REQUEST_LABELS
)
REQUESTS_IN_PROGRESS = Gauge(
    "messenger_requests_in_progress",
    "Total requests currently in progress",
    ["method", "path", "app_name"],
    multiprocess_mode="livesum",
)
#: Paths not measured (the scrape itself, static files).
UNMEASURED_PREFIXES = ("/metrics", "/static/")

#: How many labelled children :func:`child` keeps (a bound against unexpected label values).
_MAX_CHILDREN = 4_096
_children: dict[tuple[int, tuple[str, ...]], Any] = {}


def child(metric: Counter | Gauge | Histogram, *labels: str) -> Any:
    """``metric.labels(*labels)``, looked up once: prometheus_client validates and locks on
    every ``labels()`` call, a few microseconds on each of the requests' three or four
    metrics per request (docs/performance.md). Children are never removed here, so a
    cached child stays the registered one."""
    key = (id(metric), labels)
    found = _children.get(key)
    if found is None:
        found = metric.labels(*labels)
        if len(_children) < _MAX_CHILDREN:
            _children[key] = found
    return found
