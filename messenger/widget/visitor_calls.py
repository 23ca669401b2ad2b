"""The Widget API's pre-chat form and satisfaction rating (INTEGRATIONS.md §4):
``POST /api/widget/contact`` and ``POST /api/widget/csat``. Session-bound, origin-checked
and throttled like sends."""

from __future__ import annotations

import uuid

from litestar import Controller, post
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody
from sqlalchemy import select

from messenger.conversations.csat import submit_rating
from messenger.db.models import Conversation
from messenger.errors import ConflictError
from messenger.i18n import N_
from messenger.inboxes.service import inbox_settings
from messenger.widget import schemas
from messenger.widget.deps import SESSION_ERRORS, AnyRequest, CallsDep, errors


class WidgetVisitorController(Controller):
    path = "/api/widget"
    tags = ["widget"]
    request_max_body_size = 64 * 1024
    security = [{"session": []}]

    @post(
        "/contact",
        summary="The pre-chat form: the visitor's name, e-mail, phone and consent",
        description=(
            "Checked against the inbox's `prechat` fields (required ones, e-mail and phone "
            "formats, consent when required): 422 with the field in `detail` otherwise. "
            "Stored on the visitor, where operators see and search it. The first send may "
            "carry the same object as `contact` instead."
        ),
        status_code=200,
        responses=errors(*SESSION_ERRORS),
    )
    async def contact(
        self, request: AnyRequest, calls: CallsDep, data: JSONBody[schemas.ContactRequest]
    ) -> schemas.ContactOut:
        visit = await calls.visits.check(request, calls.throttle.send)
        async with calls.general() as service:
            answers = await service.save_contact(
                visit.inbox, visit.session, data.contact, visit.caller
            )
            return schemas.ContactOut(
                name=answers.name,
                email=answers.email,
                phone=answers.phone,
                consent=bool(answers.consent),
            )

    @post(
        "/csat",
        summary="Rate a resolved conversation 1-5 (once per resolution)",
        description=(
            "Only this session's conversation (another one: 404), only once it is resolved, "
            "once per resolution (again: 409 `conflict`; also 409 when the inbox turned ratings "
            "off). Fires `csat.submitted`."
        ),
        status_code=201,
        responses=errors(*SESSION_ERRORS, 409),
    )
    async def csat(
        self, request: AnyRequest, calls: CallsDep, data: JSONBody[schemas.CsatRequest]
    ) -> schemas.CsatOut:
        visit = await calls.visits.check(request, calls.throttle.send)
        if not inbox_settings(visit.inbox).csat.enabled:
            raise ConflictError(N_("Ratings are turned off for this chat."))
        try:
            conversation_id = uuid.UUID(data.conversation_id)
        except ValueError:
            raise NotFoundException(N_("No such conversation.")) from None
        async with calls.general() as service:
            conversation = await service.db.scalar(
                select(Conversation).where(
                    Conversation.id == conversation_id,
                    Conversation.inbox_id == visit.inbox.id,
                    Conversation.visitor_id == visit.session.visitor_id,
                )
            )
            if conversation is None:
                raise NotFoundException(N_("No such conversation."))
            row = await submit_rating(service.db, conversation, data.rating, data.comment)
            return schemas.CsatOut(
                id=row.id,
                conversation_id=str(conversation.id),
                rating=row.rating,
                comment=row.comment,
            )
