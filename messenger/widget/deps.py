"""What every Widget API handler is given: the visitor's call (session, inbox, caller),
the visitor-side service, and the documented error answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import SkipValidation
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.links import AttachmentLinks
from messenger.attachments.storage import Storage
from messenger.client_ip import client_ip
from messenger.config import Settings
from messenger.db.models import Inbox
from messenger.i18n import N_
from messenger.presence import Presence
from messenger.state import SharedState
from messenger.visitors.geo import GeoLocator
from messenger.visitors.service import Caller
from messenger.widget import schemas
from messenger.widget.challenge import Challenges
from messenger.widget.security import check_origin
from messenger.widget.service import WidgetService
from messenger.widget.sessions import SessionSigner, StreamTickets, WidgetSession
from messenger.widget.throttle import Throttle

AnyRequest = Request[Any, Any, Any]


@dataclass(frozen=True, slots=True)
class Visit:
    """An authenticated widget call: the session, its inbox and who is calling."""

    session: WidgetSession
    inbox: Inbox
    caller: Caller


# Annotations of the app's services as handlers receive them (built once, in create_app).
SettingsDep = NamedDependency[SkipValidation[Settings]]
SignerDep = NamedDependency[SkipValidation[SessionSigner]]
TicketsDep = NamedDependency[SkipValidation[StreamTickets]]
LinksDep = NamedDependency[SkipValidation[AttachmentLinks]]
ThrottleDep = NamedDependency[SkipValidation[Throttle]]
ChallengesDep = NamedDependency[SkipValidation[Challenges]]
PresenceDep = NamedDependency[SkipValidation[Presence]]
GeoDep = NamedDependency[SkipValidation[GeoLocator]]
StorageDep = NamedDependency[SkipValidation[Storage]]
StateDep = NamedDependency[SkipValidation[SharedState]]
DB = NamedDependency[SkipValidation[AsyncSession]]
Service = NamedDependency[SkipValidation[WidgetService]]
VisitDep = NamedDependency[SkipValidation[Visit]]


def caller_of(request: AnyRequest, settings: Settings) -> Caller:
    return Caller(
        ip=client_ip(request, settings.trusted_proxies),
        user_agent=request.headers.get("user-agent"),
        accept_language=request.headers.get("accept-language"),
    )


def bearer(request: AnyRequest) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def provide_service(
    db_session: DB, settings: SettingsDep, shared_state: StateDep, geo: GeoDep, storage: StorageDep
) -> WidgetService:
    return WidgetService(
        db=db_session, settings=settings, state=shared_state, geo=geo, storage=storage
    )


async def visit_of(
    request: AnyRequest, settings: Settings, service: WidgetService, session: WidgetSession | None
) -> Visit:
    """The session's inbox, checked against the caller's origin; 401/404/403 otherwise."""
    if session is None:
        raise NotAuthorizedException(
            N_("Missing, expired or invalid session token; bootstrap again.")
        )
    inbox = await service.inbox_by_id(session.inbox_id)
    if inbox is None:
        raise NotFoundException(N_("This chat no longer exists."))
    if inbox.session_revoked(session.issued_at):  # ended by a token rotation
        raise NotAuthorizedException(
            N_("Missing, expired or invalid session token; bootstrap again.")
        )
    caller = caller_of(request, settings)
    check_origin(request, inbox, caller.ip)
    return Visit(session=session, inbox=inbox, caller=caller)


async def provide_visit(
    request: AnyRequest, settings: SettingsDep, signer: SignerDep, service: Service
) -> Visit:
    """Dependency of every session call: ``Authorization: Bearer <session_token>``."""
    return await visit_of(request, settings, service, signer.verify(bearer(request)))


_ERRORS = {
    400: "Malformed request (bad query parameter)",
    401: "Missing, expired or forged session token: bootstrap again",
    403: "origin_not_allowed: the page's Origin/Referer is not on the inbox's allowed domains",
    404: "Unknown widget token, messenger switched off, or not this session's resource",
    413: "Body or file too large",
    415: "File type not accepted",
    422: "Invalid body: unknown field, wrong type, value too long",
    428: "challenge_required: solve the proof-of-work in `challenge` and repeat",
    429: "throttled: see the Retry-After header and `retry_after`",
    503: "unavailable: a backing service does not answer; retry after the Retry-After header",
}

SESSION_ERRORS = (401, 403, 422, 429)


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the errors a call can answer, all ``{"error", "detail", ...}``."""
    return {
        code: ResponseSpec(data_container=schemas.ErrorBody, description=_ERRORS[code])
        for code in (400, 404, 503, *codes)
    }


def idempotent_repeat() -> dict[int, ResponseSpec]:
    """The 200 of a send repeated with the same ``client_msg_id``: the stored Message."""
    return {
        200: ResponseSpec(
            data_container=schemas.MessageOut,
            description="The same client_msg_id again: the stored Message, nothing new written",
        )
    }
