"""The settings of the job worker, webhooks and e-mail (INTEGRATIONS.md §3, §5).

A section of the declaration: :class:`~messenger.config.settings.Settings` inherits every
section (service, widget, staff, operators, integrations), one declaration per variable, each module
short.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from messenger.config import audit as audits
from messenger.config import values
from messenger.config.declaration import variable
from messenger.config.operators import OperatorSettings
from messenger.config.values import Rate, SettingsError


def smtp_url(raw: str, name: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise SettingsError(
            name, "must look like smtp://user:pass@host:port, smtps://… or smtp://…?starttls=1"
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise SettingsError(name, "has a bad port") from None
    return raw


def mail_address(raw: str, name: str) -> str:
    if "@" not in raw or "\n" in raw or "\r" in raw:
        raise SettingsError(name, f"{raw!r} is not an e-mail address")
    return raw


def seconds_or_zero(raw: str, name: str) -> float:
    return 0.0 if raw.strip() in ("0", "0.0") else values.seconds(raw, name)


@dataclass(frozen=True, slots=True)
class IntegrationSettings(OperatorSettings):
    # --- the job worker ---------------------------------------------------------------------
    worker_poll_seconds: float = variable(
        "MESSENGER_WORKER_POLL_SECONDS",
        values.seconds,
        "1",
        "how often the worker (`messenger worker`) looks for due jobs in the outbox",
    )
    worker_concurrency: int = variable(
        "MESSENGER_WORKER_CONCURRENCY",
        values.int_between(1, 200),
        "8",
        "jobs (webhook deliveries, e-mails) one worker process runs at once",
    )
    worker_lease_seconds: float = variable(
        "MESSENGER_WORKER_LEASE_SECONDS",
        values.seconds,
        "60",
        "a job a worker took is given to another worker after this long if the first one died",
    )
    worker_health_port: int = variable(
        "MESSENGER_WORKER_HEALTH_PORT",
        values.int_between(0, 65535),
        "8001",
        "the worker answers `GET /ready` (and `/health`) on this port; `0` → no endpoint",
    )
    # --- webhooks -------------------------------------------------------------------------
    webhook_allow_private: bool = variable(
        "MESSENGER_WEBHOOK_ALLOW_PRIVATE",
        values.boolean,
        "0",
        "`1` → webhook URLs may resolve to loopback, private or link-local addresses "
        "(tests, a CRM on the internal network)",
        blank_is_unset=False,
    )
    webhook_timeout_seconds: float = variable(
        "MESSENGER_WEBHOOK_TIMEOUT_SECONDS",
        values.seconds,
        "10",
        "a delivery not answered with a 2xx within this long is retried",
    )
    webhook_backoff_seconds: float = variable(
        "MESSENGER_WEBHOOK_BACKOFF_SECONDS",
        values.seconds,
        "10",
        "the first retry's delay; each next one doubles (with jitter) up to the maximum",
    )
    webhook_backoff_max_seconds: float = variable(
        "MESSENGER_WEBHOOK_BACKOFF_MAX_SECONDS",
        values.seconds,
        "3600",
        "the longest delay between two attempts of one delivery",
    )
    webhook_retry_seconds: float = variable(
        "MESSENGER_WEBHOOK_RETRY_SECONDS",
        values.seconds,
        "90000",
        "a delivery is retried for this long (at least 24 h), then marked failed",
    )
    webhook_disable_after: int = variable(
        "MESSENGER_WEBHOOK_DISABLE_AFTER",
        values.positive_int,
        "50",
        "failed attempts in a row after which an endpoint is switched off (admins see a notice)",
    )
    # --- e-mail -----------------------------------------------------------------------------
    smtp_url: str | None = variable(
        "MESSENGER_SMTP_URL",
        smtp_url,
        None,
        "SMTP server for e-mail to visitors: `smtp://user:pass@host:port`, `smtps://…`, "
        "or `smtp://…?starttls=1`",
        default_doc="unset → no e-mail",
    )
    mail_from: str | None = variable(
        "MESSENGER_MAIL_FROM",
        mail_address,
        None,
        "the From address of e-mail to visitors (`Support <support@example.com>`)",
    )
    mail_offline_after_seconds: float = variable(
        "MESSENGER_MAIL_OFFLINE_AFTER_SECONDS",
        seconds_or_zero,
        "300",
        "an operator reply still not received by an open widget (stream or poll) after this "
        "long is e-mailed to a visitor who left an address (offline-form conversations: "
        "at once)",
    )

    # --- integration REST API ---
    api_rate_per_token: Rate = variable(  # noqa: RUF009 - the field specifier, like field()
        "MESSENGER_API_RATE_PER_TOKEN",
        values.parse_rate,
        "600/minute",
        "calls of the integration REST API (`/api/v1/`) per API token (then 429 with "
        "`Retry-After`)",
        audit=audits.rate,
    )

    @property
    def mail_enabled(self) -> bool:
        return self.smtp_url is not None and self.mail_from is not None
