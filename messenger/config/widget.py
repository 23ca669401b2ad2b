"""Settings of the Widget API: visitors' limits, streams, uploads, the privacy notice.

Each field is one environment variable (:func:`~messenger.config.declaration.variable`);
:class:`messenger.config.settings.Settings` is every section together, in this order.
"""

# ruff: noqa: RUF009  (variable() is this dataclass's field specifier, like field())
from __future__ import annotations

from dataclasses import dataclass

from messenger.config import audit as audits
from messenger.config import values
from messenger.config.declaration import variable
from messenger.config.service import ServiceSettings
from messenger.config.values import Rate


@dataclass(frozen=True, slots=True)
class WidgetSettings(ServiceSettings):
    """The Widget API: what a visitor may do and how often, streams, uploads, the privacy notice."""

    widget_bootstrap_rate_per_ip: Rate = variable(
        "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_IP",
        values.parse_rate,
        "30/minute",
        "bootstraps per client IP",
        audit=audits.rate,
        warn_at_default=True,
    )
    widget_bootstrap_rate_per_token: Rate = variable(
        "MESSENGER_WIDGET_BOOTSTRAP_RATE_PER_TOKEN",
        values.parse_rate,
        "3000/minute",
        "bootstraps per inbox",
        audit=audits.rate,
        warn_at_default=True,
    )
    widget_send_rate_per_session: Rate = variable(
        "MESSENGER_WIDGET_SEND_RATE_PER_SESSION",
        values.parse_rate,
        "20/minute",
        "sends (messages, uploads, offline forms) per widget session",
        audit=audits.rate,
        warn_at_default=True,
    )
    widget_send_rate_per_ip: Rate = variable(
        "MESSENGER_WIDGET_SEND_RATE_PER_IP",
        values.parse_rate,
        "60/minute",
        "sends per client IP",
        audit=audits.rate,
        warn_at_default=True,
    )
    widget_poll_rate_per_session: Rate = variable(
        "MESSENGER_WIDGET_POLL_RATE_PER_SESSION",
        values.parse_rate,
        "40/minute",
        "polls per widget session",
        audit=audits.rate,
        warn_at_default=True,
    )
    widget_poll_min_interval_seconds: float = variable(
        "MESSENGER_WIDGET_POLL_MIN_INTERVAL_SECONDS",
        values.seconds,
        "1.0",
        "shortest gap between two polls of one session",
        audit=audits.poll_interval,
        warn_at_default=True,
    )
    widget_challenge_threshold: int = variable(
        "MESSENGER_WIDGET_CHALLENGE_THRESHOLD",
        values.non_negative_int,
        "10",
        "new sessions (or offline forms) per IP per bootstrap window before a proof-of-work "
        "challenge is required; `0` = always",
    )
    widget_challenge_max_number: int = variable(
        "MESSENGER_WIDGET_CHALLENGE_MAX_NUMBER",
        values.int_between(1_000, 10_000_000),
        "100000",
        "proof-of-work difficulty (ALTCHA `maxnumber`, 1,000–10,000,000)",  # noqa: RUF001
    )
    privacy_url: str = variable(
        "MESSENGER_PRIVACY_URL",
        values.text,
        "",
        "default privacy link; an inbox's `settings.privacy.url` overrides it",
    )
    privacy_text: str = variable(
        "MESSENGER_PRIVACY_TEXT",
        values.text,
        "",
        "default privacy text; an inbox's `settings.privacy.text` overrides it",
    )
    stream_heartbeat_seconds: float = variable(
        "MESSENGER_STREAM_HEARTBEAT_SECONDS",
        values.seconds,
        "15",
        "SSE keep-alive comment interval",
    )
    # --- widget limits ---
    widget_typing_rate_per_session: Rate = variable(
        "MESSENGER_WIDGET_TYPING_RATE_PER_SESSION", values.parse_rate, "60/minute",
        "typing signals per widget session", audit=audits.rate,
    )  # fmt: skip
    widget_read_rate_per_session: Rate = variable(
        "MESSENGER_WIDGET_READ_RATE_PER_SESSION", values.parse_rate, "60/minute",
        "read receipts per widget session", audit=audits.rate,
    )  # fmt: skip
    widget_ticket_rate_per_session: Rate = variable(
        "MESSENGER_WIDGET_TICKET_RATE_PER_SESSION", values.parse_rate, "20/minute",
        "stream tickets per widget session", audit=audits.rate,
    )  # fmt: skip
    widget_transcript_rate_per_session: Rate = variable(
        "MESSENGER_WIDGET_TRANSCRIPT_RATE_PER_SESSION", values.parse_rate, "3/hour",
        "transcripts e-mailed on the visitor's request per widget session", audit=audits.rate,
    )  # fmt: skip
    widget_streams_per_session: int = variable(
        "MESSENGER_WIDGET_STREAMS_PER_SESSION", values.positive_int, "10",
        "open streams per widget session; one more is refused (429), the oldest kept",
        audit=audits.limit,
    )  # fmt: skip
    widget_streams_per_ip: int = variable(
        "MESSENGER_WIDGET_STREAMS_PER_IP", values.positive_int, "200",
        "open widget streams per client IP (IPv6: per network, see below)", audit=audits.limit,
    )  # fmt: skip
    widget_upload_rate_per_session: Rate = variable(
        "MESSENGER_WIDGET_UPLOAD_RATE_PER_SESSION", values.parse_rate, "10/minute",
        "uploads per widget session", audit=audits.rate,
    )  # fmt: skip
    widget_upload_rate_per_ip: Rate = variable(
        "MESSENGER_WIDGET_UPLOAD_RATE_PER_IP", values.parse_rate, "30/minute",
        "uploads per client IP", audit=audits.rate,
    )  # fmt: skip
    widget_download_rate_per_ip: Rate = variable(
        "MESSENGER_WIDGET_DOWNLOAD_RATE_PER_IP", values.parse_rate, "120/minute",
        "attachment downloads through widget links per client IP", audit=audits.rate,
    )  # fmt: skip
    # uploads
    upload_quota_bytes: int = variable(
        "MESSENGER_UPLOAD_QUOTA_BYTES",
        values.positive_int,
        "52428800",
        "bytes one widget session may upload in 24 hours (then 413 `upload_quota_exceeded`)",
    )
    upload_ttl_seconds: float = variable(
        "MESSENGER_UPLOAD_TTL_SECONDS",
        values.seconds,
        "86400",
        "uploads never sent in a message are deleted this long after upload by "
        "`messenger cleanup` (docs/runbook.md)",
    )
    stream_catch_up_seconds: float = variable(
        "MESSENGER_STREAM_CATCH_UP_SECONDS",
        values.seconds,
        "5",
        "how often an open stream re-reads the database for messages whose live event was "
        "lost (a failed publish, a Redis outage)",
    )
