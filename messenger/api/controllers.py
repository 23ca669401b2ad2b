"""The integration REST API (``/api/v1/``): parse, authorize (the API token and its branch
scope), call the dashboard's services, answer JSON. Outside the token's scope is 404."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, QueryParameter, SkipValidation
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.api import docs, schemas
from messenger.api.actions import ApiActions
from messenger.api.auth import ApiCaller, provide_api_caller
from messenger.api.pages import (
    contacts_of,
    conversation_page,
    find_contacts,
    label_id_of,
    messages_after,
    one_conversation,
)
from messenger.api.views import conversation_out, iso, message_out, visitor_out
from messenger.attachments.links import AttachmentLinks
from messenger.conversations.actions import StaffActions
from messenger.conversations.listing import ConversationFilters
from messenger.conversations.service import ConversationService
from messenger.db.models import Conversation
from messenger.errors import InvalidInputError
from messenger.i18n import N_
from messenger.state import SharedState

JSON_BODY_LIMIT = 64 * 1024
MAX_LIMIT = 100

Caller = NamedDependency[SkipValidation[ApiCaller]]
DB = NamedDependency[SkipValidation[AsyncSession]]
Links = NamedDependency[SkipValidation[AttachmentLinks]]
Actions = NamedDependency[SkipValidation[ApiActions]]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Page size (1–100)")]  # noqa: RUF001
Id = Annotated[int | None, QueryParameter(ge=1, le=2**62)]
Text = Annotated[str | None, QueryParameter(max_length=320)]


def provide_api_actions(
    db_session: DB, shared_state: NamedDependency[SkipValidation[SharedState]]
) -> ApiActions:
    return ApiActions(StaffActions(ConversationService(session=db_session), shared_state))


async def provide_api_conversation(
    db_session: DB, api_caller: Caller, conversation_id: FromPath[UUID]
) -> Conversation:
    """The conversation of the path within the token's branch scope; 404 otherwise."""
    return (await one_conversation(db_session, api_caller.actor, conversation_id)).conversation


Scoped = NamedDependency[SkipValidation[Conversation]]


def _json(kind: type[Any], summary: str, value: Any) -> Any:
    return Body(media_type=RequestEncodingType.JSON, examples=docs.example(summary, value))


class IntegrationController(Controller):
    path = "/api/v1"
    tags = [docs.TAG]
    security = docs.SECURITY
    request_max_body_size = JSON_BODY_LIMIT
    dependencies = {
        "api_caller": Provide(provide_api_caller),
        "api_actions": Provide(provide_api_actions, sync_to_thread=False),
        "conversation": Provide(provide_api_conversation),
    }

    @get(
        "/conversations",
        summary="Conversations in the token's scope, newest activity first",
        description=(
            "Cursor paging: pass `next_cursor` back as `cursor` until it is null; the order "
            "is stable while new conversations arrive. With `q`, ranked by relevance like "
            "the dashboard's search. Without `status`, every status."
        ),
        cache=False,
        responses={
            **docs.ok(
                schemas.ConversationPage,
                "A page of conversations",
                {"items": [docs.CONVERSATION], "next_cursor": docs.NEXT},
            ),
            **docs.errors(422),
        },
    )
    async def conversations(
        self,
        db_session: DB,
        api_caller: Caller,
        status: Annotated[schemas.Status | None, QueryParameter()] = None,
        inbox_id: Id = None,
        branch_id: Id = None,
        assignee_id: Id = None,
        label: Annotated[str | None, QueryParameter(max_length=100)] = None,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=400)] = None,
        limit: Limit = 50,
    ) -> schemas.ConversationPage:
        label_id = None
        if label is not None:
            label_id = await label_id_of(db_session, label)
            if label_id is None:  # no such label: no conversation carries it
                return schemas.ConversationPage(items=[], next_cursor=None)
        filters = ConversationFilters(
            view="all",
            status=status,
            inbox_id=inbox_id,
            branch_id=branch_id,
            assignee_id=assignee_id,
            label_id=label_id,
            search=q or "",
        )
        page = await conversation_page(db_session, api_caller.actor, filters, cursor, limit)
        contacts = await contacts_of(db_session, [r.conversation.visitor_id for r in page.rows])
        return schemas.ConversationPage(
            items=[
                conversation_out(row, contacts.get(row.conversation.visitor_id))
                for row in page.rows
            ],
            next_cursor=page.next_cursor,
        )

    @get(
        "/conversations/{conversation_id:uuid}",
        summary="One conversation: visitor, assignee, status, priority, labels",
        cache=False,
        responses={
            **docs.ok(schemas.ConversationOut, "The conversation", docs.CONVERSATION),
            **docs.errors(404),
        },
    )
    async def conversation(
        self, db_session: DB, api_caller: Caller, conversation_id: FromPath[UUID]
    ) -> schemas.ConversationOut:
        row = await one_conversation(db_session, api_caller.actor, conversation_id)
        contacts = await contacts_of(db_session, [row.conversation.visitor_id])
        return conversation_out(row, contacts.get(row.conversation.visitor_id))

    @get(
        "/conversations/{conversation_id:uuid}/messages",
        summary="Messages, notes and events after an id, ids ascending",
        description=(
            "`kind` is `message` (visitor or staff), `note` (internal, never shown to the "
            "visitor) or `event` (a status change `status:<status>`, `assigned`, …). "
            "Pass `next_cursor` back as `after`."
        ),
        cache=False,
        responses={
            **docs.ok(
                schemas.MessagePage,
                "A page of messages",
                {"items": [docs.MESSAGE], "next_cursor": None},
            ),
            **docs.errors(404, 422),
        },
    )
    async def messages(
        self,
        db_session: DB,
        api_caller: Caller,
        links: Links,
        conversation: Scoped,
        after: Annotated[int, QueryParameter(ge=0, le=2**62, description="Last id seen")] = 0,
        limit: Limit = 50,
    ) -> schemas.MessagePage:
        found, following = await messages_after(db_session, conversation, after, limit)
        return schemas.MessagePage(
            items=[message_out(m, links) for m in found], next_cursor=following
        )

    @post(
        "/conversations/{conversation_id:uuid}/messages",
        summary="Reply to the visitor, or add a note (idempotent by client_msg_id)",
        description=(
            "201 with the new message; 200 with the stored one when `client_msg_id` repeats "
            "(nothing new is written). A reply reaches the visitor's widget and the dashboard "
            "at once; a note only the dashboard. With `author_email`, written as that member "
            "of staff (active, and able to see the conversation); else under the token's name."
        ),
        responses={
            **docs.ok(schemas.MessageOut, "The new message", docs.MESSAGE, 201),
            **docs.ok(
                schemas.MessageOut, "The stored message (client_msg_id repeated)", docs.MESSAGE
            ),
            **docs.errors(404, 422),
        },
    )
    async def send(
        self,
        api_caller: Caller,
        api_actions: Actions,
        links: Links,
        conversation: Scoped,
        data: Annotated[
            schemas.SendRequest,
            _json(
                schemas.SendRequest,
                "A reply under the token's name",
                {
                    "body": "Your order ships today.",
                    "kind": "message",
                    "client_msg_id": "crm-7f3a9c",
                },
            ),
        ],
    ) -> Response[schemas.MessageOut]:
        message, created = await api_actions.send(conversation, api_caller.actor, data)
        return Response(message_out(message, links), status_code=201 if created else 200)

    @patch(
        "/conversations/{conversation_id:uuid}",
        summary="Change status, priority or assignee (the dashboard's rules)",
        description=(
            "Only the fields present change. `assignee_email` names an active operator of the "
            "conversation's branch; `null` unassigns. A refused field changes nothing."
        ),
        responses={
            **docs.ok(
                schemas.ConversationOut, "The conversation after the change", docs.CONVERSATION
            ),
            **docs.errors(404, 422),
        },
    )
    async def change(
        self,
        db_session: DB,
        api_caller: Caller,
        api_actions: Actions,
        conversation: Scoped,
        data: Annotated[
            schemas.ConversationPatch,
            _json(
                schemas.ConversationPatch,
                "Resolve and assign",
                {"status": "resolved", "assignee_email": "olga@example.com"},
            ),
        ],
    ) -> schemas.ConversationOut:
        await api_actions.patch(conversation, api_caller.actor, data)
        return conversation_out(
            await one_conversation(db_session, api_caller.actor, conversation.id)
        )

    @get(
        "/contacts",
        summary="Contacts (people who wrote) by identifier, e-mail or phone, with conversations",
        description=(
            "At least one of `identifier` (the signed identity the site gave, INTEGRATIONS.md "
            "§1), `email`, `phone`. Only people with a conversation in the token's scope, and "
            "only those conversations (newest first, at most 20); `identifier` is null for a "
            "visitor the site never identified."
        ),
        cache=False,
        responses={
            **docs.ok(
                schemas.ContactPage,
                "Matching contacts",
                {"items": [docs.CONTACT], "next_cursor": None},
            ),
            **docs.errors(422),
        },
    )
    async def contacts(
        self,
        db_session: DB,
        api_caller: Caller,
        identifier: Annotated[str | None, QueryParameter(max_length=200)] = None,
        email: Text = None,
        phone: Annotated[str | None, QueryParameter(max_length=64)] = None,
        cursor: Annotated[UUID | None, QueryParameter()] = None,
        limit: Limit = 50,
    ) -> schemas.ContactPage:
        if not (identifier or email or phone):
            raise InvalidInputError(N_("Name an identifier, an e-mail or a phone to look for."))
        found, following = await find_contacts(
            db_session,
            api_caller.actor,
            identifier=identifier,
            email=email,
            phone=phone,
            after=cursor,
            limit=limit,
        )
        identities = await contacts_of(db_session, [visitor.id for visitor, _ in found])
        items = []
        for visitor, conversations in found:
            shown = visitor_out(visitor)
            identity = identities.get(visitor.id)
            items.append(
                schemas.ContactOut(
                    id=shown.id,
                    identifier=identity.identifier if identity is not None else None,
                    name=shown.name,
                    email=shown.email,
                    phone=shown.phone,
                    inbox_id=visitor.inbox_id,
                    conversations=[
                        schemas.ContactConversation(
                            id=str(c.id),
                            status=c.status.value,
                            inbox_id=c.inbox_id,
                            branch_id=c.branch_id,
                            last_activity_at=iso(c.last_activity_at) or "",
                        )
                        for c in conversations
                    ],
                )
            )
        return schemas.ContactPage(items=items, next_cursor=following)
