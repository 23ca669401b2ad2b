"""The visitor side's rules: sessions, first message, routing, delivery, receipts, offline.

Controllers parse and authorize; everything a visitor's call *means* happens here.
"""

from __future__ import annotations

import hashlib
import mimetypes
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID

import msgspec
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload
from uuid_utils.compat import uuid7

from messenger.accounts.service import normalize_email
from messenger.config import Settings
from messenger.conversations.receipts import mark_delivered_to_visitor
from messenger.conversations.service import ConversationService, clean_body
from messenger.conversations.timeline import visitor_messages
from messenger.db.models import (
    Attachment,
    Conversation,
    ConversationChannel,
    ConversationStatus,
    Inbox,
    Message,
    MessageKind,
    MessageSender,
    Visitor,
)
from messenger.errors import DomainError, InvalidInputError, NotFoundError
from messenger.geo import GeoLocator, Location
from messenger.i18n import N_
from messenger.inboxes.availability import decide_availability
from messenger.inboxes.privacy import resolve_privacy
from messenger.inboxes.service import TOKEN_PREFIX, inbox_settings
from messenger.inboxes.settings import FORBIDDEN_CONTENT_TYPES
from messenger.presence import Presence
from messenger.realtime.publisher import Publisher, message_payload
from messenger.routing.conditions import VisitorContext
from messenger.routing.service import RoutingRuleService
from messenger.state import SharedState
from messenger.storage import Storage
from messenger.widget import schemas
from messenger.widget.links import AttachmentLinks
from messenger.widget.sessions import SessionSigner, StreamTickets, WidgetSession

TYPING_TTL_MS = 6_000
BOOTSTRAP_HISTORY = 100


class PayloadTooLargeError(DomainError):
    status_code = 413
    code = "too_large"


class UnsupportedMediaError(DomainError):
    status_code = 415
    code = "unsupported_media_type"


@dataclass(frozen=True, slots=True)
class Caller:
    """What the request tells about the visitor, beyond the body."""

    ip: str
    user_agent: str | None = None
    accept_language: str | None = None


def pick_locale(*candidates: str | None, default: str) -> str:
    """The first of ``ru`` / ``en`` named by the candidates (``ru-RU``, ``en;q=0.8``…)."""
    for candidate in candidates:
        for part in (candidate or "").split(","):
            tag = part.split(";")[0].strip().lower()[:2]
            if tag in {"ru", "en"}:
                return tag
    return default


def primary_language(*candidates: str | None) -> str | None:
    """The visitor's language for routing and the operator: the primary subtag of the
    first language named (``de-DE,en;q=0.8`` → ``de``), whatever the language."""
    for candidate in candidates:
        for part in (candidate or "").split(","):
            tag = part.split(";")[0].strip().lower().replace("_", "-").split("-")[0]
            if 2 <= len(tag) <= 3 and tag.isalpha():
                return tag
    return None


def to_message_out(message: Message, links: AttachmentLinks) -> schemas.MessageOut:
    """The visitor's view of a message; a note cannot be converted (kind is not allowed)."""
    return msgspec.convert(message_payload(message, links), schemas.MessageOut)


def conversation_out(conversation: Conversation | None) -> schemas.ConversationOut | None:
    if conversation is None:
        return None
    return schemas.ConversationOut(id=str(conversation.id), status=conversation.status.value)


def _lock_key(visitor_id: UUID) -> int:
    return int.from_bytes(hashlib.sha256(visitor_id.bytes).digest()[:8], "big", signed=True)


def safe_filename(name: str) -> str:
    """A file name safe to show and to put in Content-Disposition: no path, no controls."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')
    name = name.strip(" .")[:200]
    return name or "file"


def looks_like_markup(head: bytes) -> bool:
    """HTML, SVG or XML, whatever the upload claims to be: refused (could run as a page)."""
    sample = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return sample.startswith((b"<", b"\x00<")) or b"<svg" in sample or b"<html" in sample


class WidgetService:
    def __init__(
        self,
        *,
        db: AsyncSession,
        settings: Settings,
        state: SharedState,
        presence: Presence,
        publisher: Publisher,
        signer: SessionSigner,
        tickets: StreamTickets,
        links: AttachmentLinks,
        geo: GeoLocator,
        storage: Storage,
    ) -> None:
        self.db = db
        self.settings = settings
        self.state = state
        self.presence = presence
        self.publisher = publisher
        self.signer = signer
        self.tickets = tickets
        self.links = links
        self.geo = geo
        self.storage = storage
        self.conversations = ConversationService(session=db)

    # --- lookups ---------------------------------------------------------------------------

    async def inbox_by_id(self, inbox_id: int) -> Inbox | None:
        return await self.db.scalar(
            select(Inbox)
            .where(Inbox.id == inbox_id, Inbox.is_active.is_(True))
            .options(raiseload("*"))
        )

    async def inbox_by_token(self, widget_token: str) -> Inbox | None:
        if not widget_token.startswith(TOKEN_PREFIX) or len(widget_token) > 64:
            return None
        return await self.db.scalar(
            select(Inbox)
            .where(Inbox.widget_token == widget_token, Inbox.is_active.is_(True))
            .options(raiseload("*"))
        )

    async def last_message_id(self, conversation_id: UUID) -> int:
        newest = await self.db.scalar(
            select(func.max(Message.id)).where(Message.conversation_id == conversation_id)
        )
        return int(newest or 0)

    async def current_conversation(self, inbox_id: int, visitor_id: UUID) -> Conversation | None:
        """The visitor's latest conversation in this inbox, unless it was closed."""
        conversation = await self.db.scalar(
            select(Conversation)
            .where(Conversation.inbox_id == inbox_id, Conversation.visitor_id == visitor_id)
            # The widget path reads columns only: no eager loads of inbox/branch/visitor/assignee
            # on every call (they doubled the statements per poll).
            .options(raiseload("*"))
            .order_by(Conversation.created_at.desc(), Conversation.id.desc())
            .limit(1)
        )
        if conversation is None or conversation.status == ConversationStatus.CLOSED:
            return None
        return conversation

    def _visitor_context(
        self, caller: Caller, page_url: str | None, locale: str | None
    ) -> tuple[VisitorContext, Location]:
        location = self.geo.locate(caller.ip) if self.settings.geoip_enabled else Location()
        context = VisitorContext(
            country_code=location.country_code,
            city=location.city,
            page_url=page_url,
            language=primary_language(locale, caller.accept_language),
        )
        return context, location

    # --- bootstrap -------------------------------------------------------------------------

    async def bootstrap(
        self,
        inbox: Inbox,
        request: schemas.BootstrapRequest,
        caller: Caller,
        session: WidgetSession | None,
    ) -> schemas.BootstrapResponse:
        """Start or restore a session. Writes no visitor or conversation row."""
        settings = inbox_settings(inbox)
        visitor_id = session.visitor_id if session is not None else _new_visitor_id()
        conversation = await self.current_conversation(inbox.id, visitor_id)
        messages: list[Message] = []
        if conversation is not None:
            messages = await self._recent(conversation.id)
            await self._delivered(conversation, messages)
        context, _ = self._visitor_context(caller, request.page_url, request.locale)
        branch_id = (
            conversation.branch_id
            if conversation is not None
            else await RoutingRuleService(session=self.db).route(
                inbox, context, self.settings.default_branch_id
            )
        )
        availability = await decide_availability(
            settings, branch_id, self.presence, datetime.now(UTC)
        )
        privacy = resolve_privacy(settings, self.settings)
        new_session = WidgetSession(inbox.id, visitor_id, int(datetime.now(UTC).timestamp()))
        return schemas.BootstrapResponse(
            session_token=self.signer.issue(inbox.id, visitor_id),
            conversation=conversation_out(conversation),
            messages=[to_message_out(m, self.links) for m in messages],
            online=availability.online,
            offline_message=availability.offline_message,
            privacy=schemas.Privacy(text=privacy.text, url=privacy.url),
            attachments=schemas.AttachmentPolicy(
                enabled=settings.attachments.enabled,
                max_bytes=settings.attachments.max_bytes,
                content_types=list(settings.attachments.content_types),
            ),
            locale=settings.locale
            or pick_locale(
                request.locale, caller.accept_language, default=self.settings.default_locale
            ),  # type: ignore[arg-type]
            greeting=settings.greeting,
            stream_ticket=await self.tickets.issue(new_session),
            poll_interval_seconds=self.settings.widget_poll_min_interval_seconds,
            appearance=msgspec.to_builtins(settings.appearance),
        )

    async def _recent(self, conversation_id: UUID) -> list[Message]:
        """The last page of the visitor's view (notes excluded by ``visitor_messages``)."""
        newest = await self.db.scalar(
            select(Message.id)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .offset(BOOTSTRAP_HISTORY * 2)
            .limit(1)
        )
        return (await visitor_messages(self.db, conversation_id, after_id=newest or 0))[
            -BOOTSTRAP_HISTORY:
        ]

    async def _delivered(self, conversation: Conversation, messages: list[Message]) -> None:
        operator_ids = [
            m.id for m in messages if m.sender == MessageSender.OPERATOR and m.delivered_at is None
        ]
        if operator_ids:
            await self.deliver(conversation, max(operator_ids))

    async def deliver(self, conversation: Conversation, up_to_id: int) -> None:
        """The widget has received operator messages up to ``up_to_id``: stamp and tell staff."""
        result = await mark_delivered_to_visitor(self.db, conversation.id, up_to_id)
        if result is not None:
            highest, at = result
            await self.publisher.receipt(conversation, "delivered", highest, at, by="visitor")

    # --- send ------------------------------------------------------------------------------

    async def send(
        self, inbox: Inbox, session: WidgetSession, request: schemas.SendRequest, caller: Caller
    ) -> tuple[Message, bool]:
        """A visitor message; the first one creates the visitor row and the conversation.

        The same ``client_msg_id`` again returns the stored message (``created`` False).
        """
        if not request.body.strip() and not request.attachment_ids:
            raise InvalidInputError(N_("A message needs text or an attachment."))
        body = clean_body(request.body) if request.body.strip() else ""
        conversation, started = await self._conversation_for_send(
            inbox, session, caller, request.page_url
        )
        reopened = conversation.status in (ConversationStatus.PENDING, ConversationStatus.RESOLVED)
        if reopened:
            conversation.status = ConversationStatus.OPEN
        message, created = await self.conversations.append(
            conversation,
            sender=MessageSender.VISITOR,
            body=body,
            client_msg_id=request.client_msg_id,
            commit=False,
        )
        if created and request.attachment_ids:
            await self._link_attachments(
                inbox, session, conversation, message, request.attachment_ids
            )
        await self._commit_and_publish(
            conversation, message, created, status_changed=reopened or started
        )
        return message, created

    async def _commit_and_publish(
        self, conversation: Conversation, message: Message, created: bool, *, status_changed: bool
    ) -> None:
        """Commit, then tell every process's streams (never the other way round)."""
        await self.db.commit()
        if created:
            await self.db.refresh(message, attribute_names=["attachments", "author"])
            if status_changed:
                await self.publisher.status(conversation)
            await self.publisher.message(conversation, message)

    async def _conversation_for_send(
        self, inbox: Inbox, session: WidgetSession, caller: Caller, page_url: str | None
    ) -> tuple[Conversation, bool]:
        if self.db.bind.dialect.name == "postgresql":
            # One visitor's first messages (two tabs, a double click) must not open two
            # conversations: serialise them on the visitor until this transaction ends.
            await self.db.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(session.visitor_id)}
            )
        conversation = await self.current_conversation(inbox.id, session.visitor_id)
        visitor = await self._upsert_visitor(inbox, session.visitor_id, caller, page_url)
        if conversation is not None:
            return conversation, False
        context, _ = self._visitor_context(caller, page_url, visitor.locale)
        branch_id = await RoutingRuleService(session=self.db).route(
            inbox, context, self.settings.default_branch_id
        )
        conversation = await self.conversations.start(
            inbox=inbox, visitor=visitor, branch_id=branch_id
        )
        await self.db.flush()
        return conversation, True

    async def _upsert_visitor(
        self,
        inbox: Inbox,
        visitor_id: UUID,
        caller: Caller,
        page_url: str | None,
        *,
        contact: dict[str, str | None] | None = None,
    ) -> Visitor:
        visitor = await self.db.get(Visitor, visitor_id)
        _, location = self._visitor_context(caller, page_url, None)
        fields: dict[str, Any] = {
            "page_url": page_url,
            "user_agent": (caller.user_agent or "")[:512] or None,
            "locale": primary_language(caller.accept_language),
            "country_code": location.country_code,
            "country": location.country,
            "city": location.city,
            **(contact or {}),
        }
        if visitor is None:
            visitor = Visitor(id=visitor_id, inbox_id=inbox.id, **fields)
            self.db.add(visitor)
            await self.db.flush()
        else:
            for key, value in fields.items():
                if value is not None:
                    setattr(visitor, key, value)
        return visitor

    async def _link_attachments(
        self,
        inbox: Inbox,
        session: WidgetSession,
        conversation: Conversation,
        message: Message,
        attachment_ids: list[str],
    ) -> None:
        try:
            ids = [UUID(value) for value in attachment_ids]
        except ValueError:
            raise InvalidInputError(N_("attachment_ids: not attachment ids.")) from None
        result = await self.db.execute(
            update(Attachment)
            .where(
                Attachment.id.in_(ids),
                Attachment.inbox_id == inbox.id,
                Attachment.visitor_id == session.visitor_id,
                Attachment.message_id.is_(None),
            )
            .values(message_id=message.id, conversation_id=conversation.id)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != len(set(ids)):  # type: ignore[attr-defined]
            await self.db.rollback()
            raise InvalidInputError(N_("An attachment is unknown, not yours, or already sent."))

    # --- poll, read, typing ----------------------------------------------------------------

    async def poll(
        self, inbox: Inbox, session: WidgetSession, after_id: int
    ) -> schemas.MessagesResponse:
        conversation = await self.current_conversation(inbox.id, session.visitor_id)
        if conversation is None:
            return schemas.MessagesResponse(messages=[], conversation=None)
        messages = await visitor_messages(self.db, conversation.id, after_id=after_id)
        await self._delivered(conversation, messages)
        return schemas.MessagesResponse(
            messages=[to_message_out(m, self.links) for m in messages],
            conversation=conversation_out(conversation),
        )

    async def read(self, inbox: Inbox, session: WidgetSession, up_to_id: int) -> int | None:
        conversation = await self.current_conversation(inbox.id, session.visitor_id)
        if conversation is None:
            return None
        before = conversation.visitor_last_read_id
        marker = await self.conversations.mark_read_by_visitor(conversation, up_to_id)
        if marker is not None and marker != before:
            await self.publisher.receipt(
                conversation, "read", marker, datetime.now(UTC), by="visitor"
            )
        return marker

    async def typing(self, inbox: Inbox, session: WidgetSession, typing: bool) -> None:
        conversation = await self.current_conversation(inbox.id, session.visitor_id)
        if conversation is None:
            return  # nobody to tell before the first message
        key = f"typing:visitor:{conversation.id}"
        if typing:
            await self.state.put(key, b"1", TYPING_TTL_MS)
        else:
            await self.state.take(key)
        await self.publisher.typing(conversation, by_visitor=True, typing=typing)

    # --- offline form ----------------------------------------------------------------------

    async def offline(
        self, inbox: Inbox, session: WidgetSession, request: schemas.OfflineRequest, caller: Caller
    ) -> tuple[Message, bool]:
        """The offline form becomes a conversation carrying the visitor's contact."""
        email = normalize_email(request.email)
        body = clean_body(request.body)
        if self.db.bind.dialect.name == "postgresql":
            await self.db.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(session.visitor_id)}
            )
        visitor = await self._upsert_visitor(
            inbox,
            session.visitor_id,
            caller,
            request.page_url,
            contact={"name": request.name.strip(), "email": email, "phone": request.phone},
        )
        conversation = await self.current_conversation(inbox.id, session.visitor_id)
        started = conversation is None
        if conversation is None:
            context, _ = self._visitor_context(caller, request.page_url, visitor.locale)
            branch_id = await RoutingRuleService(session=self.db).route(
                inbox, context, self.settings.default_branch_id
            )
            conversation = await self.conversations.start(
                inbox=inbox,
                visitor=visitor,
                branch_id=branch_id,
                channel=ConversationChannel.OFFLINE_FORM,
            )
            await self.db.flush()
            # A staff-only line saying how this conversation began (shown translated).
            await self.conversations.append(
                conversation,
                sender=MessageSender.SYSTEM,
                kind=MessageKind.NOTE,
                body="offline_form",
                commit=False,
            )
        message, created = await self.conversations.append(
            conversation,
            sender=MessageSender.VISITOR,
            body=body,
            client_msg_id=request.client_msg_id,
            commit=False,
        )
        await self._commit_and_publish(conversation, message, created, status_changed=started)
        return message, created

    # --- attachments -----------------------------------------------------------------------

    async def upload(
        self,
        inbox: Inbox,
        session: WidgetSession,
        *,
        filename: str,
        content_type: str,
        data: bytes,
    ) -> Attachment:
        policy = inbox_settings(inbox).attachments
        if not policy.enabled:
            raise UnsupportedMediaError(N_("This inbox does not accept attachments."))
        if len(data) > policy.max_bytes:
            raise PayloadTooLargeError(
                N_("The file is larger than %(bytes)d bytes."), params={"bytes": policy.max_bytes}
            )
        if not data:
            raise InvalidInputError(N_("The file is empty."))
        declared = (content_type or "").split(";")[0].strip().lower()
        guessed = (mimetypes.guess_type(filename)[0] or "").lower()
        for candidate in (declared, guessed):
            if candidate in FORBIDDEN_CONTENT_TYPES:
                raise UnsupportedMediaError(
                    N_("Files of type %(type)s are not accepted."), params={"type": candidate}
                )
        if declared not in policy.content_types:
            allowed = ", ".join(policy.content_types)
            raise UnsupportedMediaError(
                N_("Files of type %(type)s are not accepted; allowed: %(allowed)s."),
                params={"type": declared or "?", "allowed": allowed},
            )
        if looks_like_markup(data):
            raise UnsupportedMediaError(
                N_("The file looks like HTML, SVG or XML and is not accepted.")
            )
        key = await self.storage.save(data)
        attachment = Attachment(
            inbox_id=inbox.id,
            visitor_id=session.visitor_id,
            filename=safe_filename(filename),
            content_type=declared,
            size_bytes=len(data),
            storage_key=key,
            sha256=hashlib.sha256(data).hexdigest(),
        )
        self.db.add(attachment)
        try:
            await self.db.commit()
        except Exception:
            await self.storage.delete(key)  # nothing half-written
            raise
        return attachment

    async def attachment_for_download(self, attachment_id: UUID) -> tuple[Attachment, bytes]:
        attachment = await self.db.get(Attachment, attachment_id)
        if attachment is None:
            raise NotFoundError(N_("No such attachment."))
        return attachment, await self.storage.load(attachment.storage_key)


def _new_visitor_id() -> UUID:
    return uuid7()


def content_disposition(filename: str) -> str:
    """``attachment`` (never inline) with an ASCII fallback and the RFC 5987 UTF-8 name."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in filename)
    encoded = quote(filename, safe="")
    return f"attachment; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{encoded}"
