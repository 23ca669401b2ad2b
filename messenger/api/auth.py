"""Who calls the integration API: the API token of ``Authorization: Bearer``, its rate limit
and its last-used time. The token is read from that header only (never from a URL) and is
never logged."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.params import SkipValidation
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.api_tokens.service import ApiTokenService
from messenger.client_ip import client_ip, ip_bucket
from messenger.config import Settings
from messenger.conversations.actors import IntegrationActor
from messenger.db import audit
from messenger.db.models import ApiToken
from messenger.errors import DomainError
from messenger.i18n import N_
from messenger.realtime.publisher import Publisher
from messenger.realtime.transaction import SessionFactory, transaction
from messenger.state import SharedState

#: The last-used time is written at most once per this many milliseconds per token.
LAST_USED_EVERY_MS = 60_000
#: Calls with a missing or wrong token one client address may make per minute; past them
#: 429 (guessing tokens is hopeless, but each guess costs a lookup).
FAILED_PER_IP_PER_MINUTE = 30
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="messenger-api"'}


class ApiThrottledError(DomainError):
    """The token's calls in the window are used up: 429 with ``Retry-After``."""

    status_code = 429
    code = "throttled"

    def __init__(self, retry_after_ms: int, limit: str = "api_per_token") -> None:
        self.retry_after = max(1, math.ceil(retry_after_ms / 1000))
        super().__init__(
            N_("Too many requests; try again in %(seconds)d s."),
            params={"seconds": self.retry_after},
            extra={"retry_after": self.retry_after, "limit": limit},
        )


@dataclass(frozen=True, slots=True)
class ApiCaller:
    """The calling token and the actor it is in the domain (its name and branch scope)."""

    token: ApiToken
    actor: IntegrationActor


def _bearer(request: Request[Any, Any, Any]) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _unauthorized() -> NotAuthorizedException:
    return NotAuthorizedException(
        detail=N_("A valid API token is required: Authorization: Bearer <token>."),
        headers=_CHALLENGE,
    )


async def provide_api_caller(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[SkipValidation[AsyncSession]],
    shared_state: NamedDependency[SkipValidation[SharedState]],
    settings: NamedDependency[SkipValidation[Settings]],
    sessions: NamedDependency[SkipValidation[SessionFactory]],
    publisher: NamedDependency[SkipValidation[Publisher]],
) -> ApiCaller:
    """401 without a live token; 429 past the token's rate (counted in the shared store,
    so every process counts together); the last-used time written once a minute at most."""
    presented = _bearer(request)
    tokens = ApiTokenService(session=db_session)
    token = await tokens.authenticate(presented) if presented is not None else None
    if token is None:
        address = ip_bucket(client_ip(request, settings.trusted_proxies), settings.ipv6_prefix)
        failed, retry_ms = await shared_state.hit(f"throttle:api_auth_failed:{address}", 60_000)
        if failed > FAILED_PER_IP_PER_MINUTE:
            raise ApiThrottledError(retry_ms, "api_auth_failed_per_ip")
        raise _unauthorized()
    rate = settings.api_rate_per_token
    count, retry_ms = await shared_state.hit(
        f"throttle:api_per_token:{token.id}", rate.window_seconds * 1000
    )
    if count > rate.limit:
        raise ApiThrottledError(retry_ms)
    if await shared_state.claim(f"api:last_used:{token.id}", LAST_USED_EVERY_MS) == 0:
        # In a transaction of its own: the call is a use even when its answer is a 4xx
        # (which rolls the request's transaction back).
        async with transaction(sessions, publisher) as own:
            await ApiTokenService(session=own).mark_used(token)
    # Anything this call changes that is audited is audited as the token, from this address.
    audit.set_actor(
        db_session,
        audit.Actor(None, f"api-token:{token.id}", client_ip(request, settings.trusted_proxies)),
    )
    return ApiCaller(
        token=token, actor=IntegrationActor(name=token.name, branches=token.branch_ids)
    )
