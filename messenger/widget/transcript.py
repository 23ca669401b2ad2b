"""The Widget API's on-request transcript (INTEGRATIONS.md §5): ``POST
/api/widget/transcript``. Session-bound, origin-checked, throttled per session."""

from __future__ import annotations

import uuid

from litestar import Controller, post
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from messenger.db.models import Conversation
from messenger.i18n import N_
from messenger.mail.requests import request_transcript
from messenger.widget import schemas
from messenger.widget.deps import SESSION_ERRORS, AnyRequest, CallsDep, errors


class WidgetTranscriptController(Controller):
    path = "/api/widget"
    tags = ["widget"]
    request_max_body_size = 4 * 1024
    security = [{"session": []}]

    @post(
        "/transcript",
        summary="E-mail the visitor this conversation's transcript",
        description=(
            "Only this session's conversation (another one: 404). Sent to `email` when "
            "given (checked; kept on the visitor if they had no address), else to the "
            "address the visitor left (pre-chat form, offline form, signed identity); none "
            "known: 422 `email_required`. E-mail not set up on the server: 409 "
            "`unavailable` (bootstrap's `transcript` is then false). 202: the mail is "
            "queued and sent by the worker, with retries: the visitor-visible messages "
            "(never internal notes), in the conversation's language. Limit: "
            "`MESSENGER_WIDGET_TRANSCRIPT_RATE_PER_SESSION` (3/hour)."
        ),
        status_code=202,
        responses=errors(*SESSION_ERRORS, 409),
    )
    async def transcript(
        self, request: AnyRequest, calls: CallsDep, data: JSONBody[schemas.TranscriptRequest]
    ) -> schemas.TranscriptOut:
        visit = await calls.visits.check(request, lambda _ip, key: calls.throttle.transcript(key))
        try:
            conversation_id = uuid.UUID(data.conversation_id)
        except ValueError:
            raise NotFoundException(N_("No such conversation.")) from None
        async with calls.general() as service:
            conversation = await service.db.scalar(
                select(Conversation)
                .where(
                    Conversation.id == conversation_id,
                    Conversation.inbox_id == visit.inbox.id,
                    Conversation.visitor_id == visit.session.visitor_id,
                )
                .options(selectinload(Conversation.visitor))
            )
            if conversation is None:
                raise NotFoundException(N_("No such conversation."))
            request_transcript(service.db, conversation, data.email, calls.settings)
        return schemas.TranscriptOut(queued=True)
