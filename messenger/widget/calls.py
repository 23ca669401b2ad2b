"""A visitor's session calls — send, poll, ticket, typing, read — composed once per process.

Each handler of these calls takes this one object instead of a dozen named dependencies:
Litestar resolves the dependencies of one level concurrently, in a task group with a task
per dependency, and on the widget's hottest calls that alone cost more than the database
statement (docs/performance.md, the profile of the send). What a call *means* is still in
the services: :class:`messenger.widget.hotpath.HotPath` for the common case,
:class:`messenger.widget.service.WidgetService` (the ORM, one unit of work) for the rest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy.exc import InterfaceError, OperationalError
from uuid_utils.compat import uuid7

from messenger.attachments.links import AttachmentLinks
from messenger.attachments.storage import Storage
from messenger.config import Settings
from messenger.contacts.identity import identity_required
from messenger.contacts.service import ContactService, Identity
from messenger.conversations.actions import typing_event
from messenger.conversations.schemas import MessageOut, conversation_out, message_out
from messenger.db.direct import DatabaseUnavailableError
from messenger.i18n import N_
from messenger.inboxes.cache import CachedInbox, InboxCache
from messenger.metrics import WIDGET_PATH, child
from messenger.presence import Presence
from messenger.realtime.publisher import Publisher
from messenger.realtime.transaction import SessionFactory, publish_committed, transaction
from messenger.state import SharedState
from messenger.visitors.geo import GeoLocator
from messenger.visitors.service import Caller, VisitorService, locate
from messenger.widget import schemas
from messenger.widget.bootstrap import bootstrap, respond
from messenger.widget.challenge import Challenges
from messenger.widget.first_message import FirstMessage, Newcomers, takes_first_message
from messenger.widget.hotpath import HotPath, Timeline
from messenger.widget.service import WidgetService
from messenger.widget.sessions import TICKET_TTL_MS, SessionSigner, StreamTickets
from messenger.widget.throttle import Throttle
from messenger.widget.visits import AnyRequest, Visits


@dataclass(frozen=True, slots=True)
class SessionCalls:
    settings: Settings
    visits: Visits
    throttle: Throttle
    tickets: StreamTickets
    links: AttachmentLinks
    geo: GeoLocator
    state: SharedState
    storage: Storage
    sessions: SessionFactory
    publisher: Publisher
    hot_path: HotPath | None
    inboxes: InboxCache
    signer: SessionSigner
    challenges: Challenges
    presence: Presence
    first_message: FirstMessage | None = None
    newcomers: Newcomers = field(default_factory=Newcomers)

    @asynccontextmanager
    async def general(self) -> AsyncIterator[WidgetService]:
        """The ORM services in one unit of work: commit at the end (then publish), roll
        back on an error; a database that went away is a 503."""
        try:
            async with transaction(self.sessions, self.publisher) as db:
                yield WidgetService(
                    db=db,
                    settings=self.settings,
                    state=self.state,
                    geo=self.geo,
                    storage=self.storage,
                    presence=self.presence,
                )
        except (OperationalError, InterfaceError) as exc:
            raise DatabaseUnavailableError from exc

    async def bootstrap(
        self, request: AnyRequest, data: schemas.BootstrapRequest
    ) -> schemas.BootstrapResponse:
        """Start or restore a session: limits, inbox, origin, maybe a challenge, then the
        conversation's last messages — one statement for a returning visitor."""
        cached, caller = await self.visits.bootstrap(
            request, data.widget_token, self.throttle.bootstrap
        )
        inbox = cached.inbox
        if data.identity is not None:
            return await self._identified(data, cached, caller)
        if cached.settings.identity.required:
            raise identity_required()
        session = self.signer.verify(data.session_token)
        if session is not None and (session.inbox_id != inbox.id or session.identified):
            # Another inbox's token: a new session, never someone else's. A contact's
            # session without its identity (logged out, or the page no longer says who
            # the visitor is): a new anonymous session, never the contact's history.
            session = None
        if session is None:
            # Past the per-inbox bucket a new session solves the challenge (never a 429 for
            # the whole site); a returning visitor is neither counted nor refused there.
            started, over = await self.throttle.new_session(caller.ip, inbox.id)
            await self.challenges.demand(
                count=started,
                threshold=self.settings.widget_challenge_threshold,
                over=over,
                solution=data.challenge_solution,
                detail=N_("Too many new chats: solve the challenge and retry."),
            )
        elif inbox.session_revoked(session.issued_at):
            session = None  # ended by a token rotation: a new visitor, not the old conversation
        visitor_id = session.visitor_id if session is not None else uuid7()
        if session is None and inbox.branch_id is not None:
            # A new visitor of a branch inbox: no conversation can exist yet and the branch
            # is the inbox's — nothing to read from the database.
            child(WIDGET_PATH, "bootstrap", "hot").inc()
            self.newcomers.add(visitor_id)
            return await self._respond(data, caller, cached, visitor_id, None, inbox.branch_id)
        if session is not None and self.hot_path is not None:
            found = await self.hot_path.recent(inbox_id=inbox.id, visitor_id=visitor_id)
            if found is not None:
                child(WIDGET_PATH, "bootstrap", "hot").inc()
                return await self._respond(data, caller, cached, visitor_id, found, found.branch_id)
        child(WIDGET_PATH, "bootstrap", "general").inc()
        async with self.general() as service:
            return await bootstrap(
                service,
                VisitorService(service.db, self.settings, self.geo),
                settings=self.settings,
                presence=self.presence,
                signer=self.signer,
                tickets=self.tickets,
                links=self.links,
                inbox=inbox,
                request=data,
                caller=caller,
                visitor_id=visitor_id,
            )

    async def _identified(
        self, data: schemas.BootstrapRequest, cached: CachedInbox, caller: Caller
    ) -> schemas.BootstrapResponse:
        """A signed identity: the session belongs to the inbox's contact, whatever session
        token came along (another identity's or an anonymous one is never merged into it).
        A wrong hash is a 401 with nothing written (the unit of work rolls back)."""
        assert data.identity is not None
        told = data.identity
        child(WIDGET_PATH, "bootstrap", "general").inc()
        async with self.general() as service:
            contact = await ContactService(service.db).identify(
                cached.inbox,
                Identity(
                    identifier=told.identifier,
                    identity_hash=told.identity_hash,
                    name=told.name,
                    email=told.email,
                    phone=told.phone,
                ),
            )
            return await bootstrap(
                service,
                VisitorService(service.db, self.settings, self.geo),
                settings=self.settings,
                presence=self.presence,
                signer=self.signer,
                tickets=self.tickets,
                links=self.links,
                inbox=cached.inbox,
                request=data,
                caller=caller,
                visitor_id=contact.visitor_id,
                identifier=contact.identifier,
            )

    async def _respond(
        self,
        data: schemas.BootstrapRequest,
        caller: Caller,
        cached: CachedInbox,
        visitor_id: UUID,
        found: Timeline | None,
        branch_id: int | None,
    ) -> schemas.BootstrapResponse:
        return await respond(
            settings=self.settings,
            presence=self.presence,
            signer=self.signer,
            tickets=self.tickets,
            inbox=cached.inbox,
            policy=cached.settings,
            request=data,
            caller=caller,
            visitor_id=visitor_id,
            conversation=found.conversation if found is not None else None,
            messages=found.messages if found is not None else [],
            branch_id=branch_id,
        )

    async def send(self, request: AnyRequest, data: schemas.SendRequest) -> tuple[MessageOut, bool]:
        """The stored message and whether it is new (False: a repeated ``client_msg_id``)."""
        visit = await self.visits.check(request, self.throttle.send)
        simple = not data.attachment_ids and data.contact is None
        if (
            simple
            and self.first_message is not None
            and self.newcomers.take(visit.session.visitor_id)
            and not visit.session.identified
            and takes_first_message(visit.inbox)
        ):
            # A visitor this process bootstrapped as new: one statement makes the visitor,
            # the conversation and the message, or the general path does (they exist).
            started = await self.first_message.start(
                inbox=visit.inbox,
                visitor_id=visit.session.visitor_id,
                body=data.body,
                client_msg_id=data.client_msg_id,
                caller=visit.caller,
                location=locate(self.settings, self.geo, visit.caller),
                page_url=data.page_url,
                referrer=data.referrer,
            )
            if started is not None:
                child(WIDGET_PATH, "send", "first").inc()
                return started, True
        elif simple and self.hot_path is not None:
            out = await self.hot_path.send(
                inbox_id=visit.inbox.id,
                visitor_id=visit.session.visitor_id,
                body=data.body,
                client_msg_id=data.client_msg_id,
                caller=visit.caller,
                location=locate(self.settings, self.geo, visit.caller),
                page_url=data.page_url,
            )
            if out is not None:
                child(WIDGET_PATH, "send", "hot").inc()
                return out, True
        child(WIDGET_PATH, "send", "general").inc()
        async with self.general() as service:
            sent = await service.send(visit.inbox, visit.session, data, visit.caller)
            return message_out(sent.message, self.links), sent.created

    async def poll(self, request: AnyRequest, after: int) -> schemas.MessagesResponse:
        visit = await self.visits.check(request, lambda _ip, key: self.throttle.poll(key))
        if self.hot_path is not None:
            polled = await self.hot_path.poll(
                inbox_id=visit.inbox.id, visitor_id=visit.session.visitor_id, after_id=after
            )
            if polled is not None:
                child(WIDGET_PATH, "poll", "hot").inc()
                return schemas.MessagesResponse(messages=polled[1], conversation=polled[0])
        child(WIDGET_PATH, "poll", "general").inc()
        async with self.general() as service:
            conversation, messages = await service.poll(visit.inbox, visit.session, after)
            return schemas.MessagesResponse(
                messages=[message_out(m, self.links) for m in messages],
                conversation=conversation_out(conversation),
            )

    async def ticket(self, request: AnyRequest) -> schemas.TicketResponse:
        visit = await self.visits.check(request, lambda _ip, key: self.throttle.ticket(key))
        ticket = await self.tickets.issue(visit.session)
        return schemas.TicketResponse(ticket=ticket, expires_in=TICKET_TTL_MS // 1000)

    async def typing(self, request: AnyRequest, typing: bool) -> None:
        visit = await self.visits.check(request, lambda _ip, key: self.throttle.typing(key))
        if self.hot_path is not None:
            # One read of the conversation, no unit of work: the signal itself lives in
            # the shared state and the event is published as the general path would.
            child(WIDGET_PATH, "typing", "hot").inc()
            conversation = await self.hot_path.current(
                inbox_id=visit.inbox.id, visitor_id=visit.session.visitor_id
            )
            if conversation is not None:  # nobody to tell before the first message
                event = await typing_event(self.state, conversation, by_visitor=True, typing=typing)
                await publish_committed(self.publisher, [event])
            return
        child(WIDGET_PATH, "typing", "general").inc()
        async with self.general() as service:
            await service.typing(visit.inbox, visit.session, typing)

    async def read(self, request: AnyRequest, up_to_id: int) -> schemas.ReadResponse:
        visit = await self.visits.check(request, lambda _ip, key: self.throttle.read(key))
        if self.hot_path is not None:
            marked = await self.hot_path.read(
                inbox_id=visit.inbox.id, visitor_id=visit.session.visitor_id, up_to_id=up_to_id
            )
            if marked is not None:
                child(WIDGET_PATH, "read", "hot").inc()
                return marked
        child(WIDGET_PATH, "read", "general").inc()
        async with self.general() as service:
            return schemas.ReadResponse(
                up_to_id=await service.read(visit.inbox, visit.session, up_to_id)
            )
