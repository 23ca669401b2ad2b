"""What every Widget API handler is given: the visitor's call (session, inbox, caller),
the visitor-side service, and the documented error answers."""

from __future__ import annotations

from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import SkipValidation
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.links import AttachmentLinks
from messenger.attachments.storage import Storage
from messenger.config import Settings
from messenger.inboxes.cache import InboxCache
from messenger.presence import Presence
from messenger.state import SharedState
from messenger.visitors.geo import GeoLocator
from messenger.widget import schemas
from messenger.widget.calls import SessionCalls
from messenger.widget.challenge import Challenges
from messenger.widget.service import WidgetService
from messenger.widget.sessions import SessionSigner, StreamTickets
from messenger.widget.throttle import Throttle
from messenger.widget.visits import AnyRequest, Visit, Visits, bearer, caller_of

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
InboxesDep = NamedDependency[SkipValidation[InboxCache]]


def provide_service(
    db_session: DB, settings: SettingsDep, shared_state: StateDep, geo: GeoDep, storage: StorageDep
) -> WidgetService:
    return WidgetService(
        db=db_session, settings=settings, state=shared_state, geo=geo, storage=storage
    )


VisitsDep = NamedDependency[SkipValidation[Visits]]
CallsDep = NamedDependency[SkipValidation[SessionCalls]]

__all__ = ["AnyRequest", "Visit", "bearer", "caller_of"]


_ERRORS = {
    400: "Malformed request (bad query parameter)",
    401: "Missing, expired or forged session token: bootstrap again",
    403: "origin_not_allowed: the page's Origin/Referer is not on the inbox's allowed domains",
    409: (
        "conflict: already done (a conversation rated once per resolution); "
        "unavailable: e-mail is not set up (POST /transcript)"
    ),
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
