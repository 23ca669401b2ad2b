"""Prometheus metrics beyond Litestar's per-route requests and latency (``/metrics``).

With several processes, set ``PROMETHEUS_MULTIPROC_DIR`` to a shared empty directory so
``/metrics`` sums every process (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

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
    "Widget sends and polls by path: 'hot' (one statement) or 'general' (the ORM services: "
    "a first message, attachments, a retry, a delivery to stamp).",
    ["call", "path"],
)
