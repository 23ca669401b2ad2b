"""Starting or restoring a widget session. A bootstrap writes no visitor or conversation
row (bots bootstrap a lot); it only stamps operator messages the widget now holds as
delivered."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec

from messenger.attachments.links import AttachmentLinks
from messenger.config import Settings
from messenger.conversations.schemas import (
    ConversationOut,
    MessageOut,
    conversation_out,
    message_out,
)
from messenger.db.models import Inbox, Message
from messenger.i18n import negotiate
from messenger.inboxes.availability import decide_availability
from messenger.inboxes.privacy import resolve_privacy
from messenger.inboxes.service import inbox_settings
from messenger.inboxes.settings import InboxSettings
from messenger.presence import Presence
from messenger.routing.service import RoutingRuleService
from messenger.visitors.service import Caller, VisitorService
from messenger.widget import schemas
from messenger.widget.service import WidgetService
from messenger.widget.sessions import SessionSigner, StreamTickets, WidgetSession


async def bootstrap(
    service: WidgetService,
    visitors: VisitorService,
    *,
    settings: Settings,
    presence: Presence,
    signer: SessionSigner,
    tickets: StreamTickets,
    links: AttachmentLinks,
    inbox: Inbox,
    request: schemas.BootstrapRequest,
    caller: Caller,
    visitor_id: UUID,
    identifier: str | None = None,
) -> schemas.BootstrapResponse:
    """Start a session or restore it with its conversation, through the ORM services (the
    general path: a new visitor is routed to learn whether their branch is online)."""
    conversation = await service.current_conversation(inbox.id, visitor_id)
    messages: list[Message] = []
    if conversation is not None:
        messages = await service.recent(conversation.id)
        await service.delivered(conversation, messages)
        branch_id = conversation.branch_id
    else:
        context = visitors.context(caller, request.page_url, request.locale)
        branch_id = await RoutingRuleService(session=service.db).route(
            inbox, context, settings.default_branch_id
        )
    return await respond(
        settings=settings,
        presence=presence,
        signer=signer,
        tickets=tickets,
        inbox=inbox,
        policy=inbox_settings(inbox),
        request=request,
        caller=caller,
        visitor_id=visitor_id,
        conversation=conversation_out(conversation),
        messages=[message_out(m, links) for m in messages],
        branch_id=branch_id,
        identifier=identifier,
    )


async def respond(
    *,
    settings: Settings,
    presence: Presence,
    signer: SessionSigner,
    tickets: StreamTickets,
    inbox: Inbox,
    policy: InboxSettings,
    request: schemas.BootstrapRequest,
    caller: Caller,
    visitor_id: UUID,
    conversation: ConversationOut | None,
    messages: list[MessageOut],
    branch_id: int | None,
    identifier: str | None = None,
) -> schemas.BootstrapResponse:
    """The bootstrap's answer: a fresh session token, the conversation and its last
    messages, whether someone is online, the inbox's policy for the widget."""
    availability = await decide_availability(policy, branch_id, presence, datetime.now(UTC))
    privacy = resolve_privacy(policy, settings)
    identified = identifier is not None
    new_session = WidgetSession(
        inbox.id, visitor_id, int(datetime.now(UTC).timestamp()), identified
    )
    languages = ",".join(v for v in (request.locale, caller.accept_language) if v)
    return schemas.BootstrapResponse(
        session_token=signer.issue(inbox.id, visitor_id, identified=identified),
        conversation=conversation,
        messages=messages,
        online=availability.online,
        offline_message=availability.offline_message,
        privacy=schemas.Privacy(text=privacy.text, url=privacy.url),
        attachments=schemas.AttachmentPolicy(
            enabled=policy.attachments.enabled,
            max_bytes=policy.attachments.max_bytes,
            content_types=list(policy.attachments.content_types),
        ),
        locale=policy.locale or negotiate(None, languages, settings.default_locale),
        greeting=policy.greeting,
        stream_ticket=await tickets.issue(new_session),
        poll_interval_seconds=settings.widget_poll_min_interval_seconds,
        appearance=msgspec.to_builtins(policy.appearance),
        prechat=schemas.PrechatOut(
            enabled=policy.prechat.enabled and not identified,  # identified visitors skip it
            fields=[
                schemas.PrechatFieldOut(name=f.name, required=f.required)
                for f in policy.prechat.fields
            ],
        ),
        csat=schemas.CsatPolicy(enabled=policy.csat.enabled),
        identity=schemas.IdentityOut(identifier=identifier) if identifier is not None else None,
        transcript=settings.mail_enabled,
    )
