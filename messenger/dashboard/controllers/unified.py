"""The unified messenger: conversation list, one conversation, and what operators do there."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, QueryParameter, SkipValidation, URLEncodedBody
from litestar.response import Redirect, Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.attachments.files import download_headers
from messenger.attachments.staff import parse_ids
from messenger.attachments.storage import Storage
from messenger.contacts.service import ContactService
from messenger.conversations.actions import StaffActions
from messenger.conversations.csat import ratings_of
from messenger.conversations.listing import Cursor, earlier_conversations
from messenger.conversations.rules import MAX_BODY_LENGTH, can_see
from messenger.conversations.search import SearchCursor
from messenger.conversations.service import ConversationService
from messenger.conversations.timeline import VISITOR_KINDS, staff_messages
from messenger.dashboard.conversation_list import (
    PARTS,
    filter_choices,
    list_context,
    list_filters,
    parse_since,
)
from messenger.dashboard.conversation_tools import tools_context
from messenger.dashboard.deps import (
    DashboardRequest,
    page_or_partial,
    provide_actions,
    wants_partial,
)
from messenger.db.models import (
    Attachment,
    Conversation,
    ConversationPriority,
    ConversationStatus,
    User,
)
from messenger.errors import InvalidInputError
from messenger.i18n import N_

HISTORY_PAGE = 50

Actions = NamedDependency[StaffActions]
CurrentUser = NamedDependency[User]
DB = NamedDependency[AsyncSession]


class ComposerForm(msgspec.Struct):
    body: Annotated[str, msgspec.Meta(max_length=MAX_BODY_LENGTH)] = ""
    kind: str = "message"
    client_msg_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    #: Files uploaded from the composer, ids separated by commas (messenger/attachments/staff.py).
    attachment_ids: Annotated[str, msgspec.Meta(max_length=400)] = ""


class StatusForm(msgspec.Struct):
    status: str = ""


class PriorityForm(msgspec.Struct):
    priority: str = ""


class AssignForm(msgspec.Struct):
    assignee_id: str = ""


class TypingForm(msgspec.Struct):
    typing: str = "false"


class ReadForm(msgspec.Struct):
    up_to_id: int = 0


async def provide_conversation(
    db_session: DB, current_user: CurrentUser, conversation_id: FromPath[UUID]
) -> Conversation:
    """The conversation of the path, if the user may see it; 404 otherwise (branch scope)."""
    return await ConversationService(session=db_session).get_for_staff(
        conversation_id, current_user
    )


Scoped = NamedDependency[Conversation]


async def controls_template(db: AsyncSession, user: User, conversation: Conversation) -> Template:
    """The conversation header (status, assignee, priority, labels, snooze, transfer)."""
    await db.refresh(conversation, attribute_names=["assignee"])
    return Template(
        "dashboard/partials/conversation_controls.html",
        context={
            "user": user,
            "conversation": conversation,
            "statuses": [s.value for s in ConversationStatus],
            "priorities": [p.value for p in ConversationPriority],
            **await tools_context(db, conversation),
        },
    )


class UnifiedMessengerController(Controller):
    dependencies = {
        "actions": Provide(provide_actions, sync_to_thread=False),
        "conversation": Provide(provide_conversation),
    }

    async def _pane_context(
        self, db: AsyncSession, user: User, conversation: Conversation, actions: StaffActions
    ) -> dict[str, Any]:
        messages = await staff_messages(db, conversation.id, limit=HISTORY_PAGE)
        # The marker moves to the newest message the visitor can see; when the page's
        # newest such message is already read there is nothing to mark (mark_read would
        # find that out with a query of its own).
        newest = next((m.id for m in reversed(messages) if m.kind in VISITOR_KINDS), None)
        if messages and (newest is None or newest > (conversation.operator_last_read_id or 0)):
            await actions.mark_read(conversation, messages[-1].id)
        return {
            "conversation": conversation,
            "messages": messages,
            "has_older": len(messages) == HISTORY_PAGE,
            "earlier": await earlier_conversations(db, user, conversation),
            "contact": await ContactService(db).of_visitor(conversation.visitor_id),
            "ratings": await ratings_of(db, conversation.id),
            "statuses": [s.value for s in ConversationStatus],
            "priorities": [p.value for p in ConversationPriority],
            **await tools_context(db, conversation),
        }

    @get("/", name="home")
    async def home(self, request: DashboardRequest, current_user: CurrentUser) -> Redirect:
        return Redirect(request.app.route_reverse("conversations"))

    @get("/conversations", name="conversations")
    async def conversations(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        view: Annotated[str | None, QueryParameter(max_length=20)] = None,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        inbox: Annotated[str | None, QueryParameter(max_length=20)] = None,
        branch: Annotated[str | None, QueryParameter(max_length=20)] = None,
        priority: Annotated[str | None, QueryParameter(max_length=20)] = None,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        before: Annotated[str | None, QueryParameter(max_length=100)] = None,
        after: Annotated[str | None, QueryParameter(max_length=100)] = None,
        page: Annotated[str | None, QueryParameter(max_length=60)] = None,
        part: Annotated[str | None, QueryParameter(max_length=10)] = None,
        since: Annotated[str | None, QueryParameter(max_length=40)] = None,
        bottom: Annotated[str | None, QueryParameter(max_length=100)] = None,
        csat: Annotated[str | None, QueryParameter(max_length=20)] = None,
        label: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Template:
        filters = list_filters(
            view, status, inbox, branch, priority, q, before, after, csat=csat, label=label
        )
        cursor = SearchCursor.decode(page) if page else None
        chosen = part if part in PARTS else None
        moment = parse_since(since)
        changes = (moment, Cursor.decode(bottom)) if moment and bottom else None
        context = {
            "user": current_user,
            "part": chosen,
            **await list_context(db_session, current_user, filters, cursor, chosen, changes),
            "conversation": None,
        }
        if chosen is not None:
            return Template("dashboard/partials/conversation_rows.html", context=context)
        partial = wants_partial(request)
        if not partial:  # the filter form is the page's; the list partial has none
            context.update(await filter_choices(db_session, current_user))
        context["oob_counts"] = partial
        return page_or_partial(
            request, "dashboard/unified.html", "dashboard/partials/conversation_list.html", context
        )

    @get("/conversations/{conversation_id:uuid}", name="conversation")
    async def conversation(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        actions: Actions,
        conversation: Scoped,
    ) -> Template:
        pane = await self._pane_context(db_session, current_user, conversation, actions)
        context = {"user": current_user, **pane}
        if wants_partial(request):
            return Template("dashboard/partials/conversation_pane.html", context=context)
        filters = list_filters(None, None, None, None, None, None)
        context.update(await list_context(db_session, current_user, filters))
        context.update(await filter_choices(db_session, current_user, pane["labels"]))
        return Template("dashboard/unified.html", context=context)

    @get("/conversations/{conversation_id:uuid}/history", name="history")
    async def history(
        self,
        db_session: DB,
        current_user: CurrentUser,
        conversation: Scoped,
        before: Annotated[int, QueryParameter(ge=1)],
    ) -> Template:
        messages = await staff_messages(
            db_session, conversation.id, before_id=before, limit=HISTORY_PAGE
        )
        return Template(
            "dashboard/partials/history.html",
            context={
                "conversation": conversation,
                "messages": messages,
                "has_older": len(messages) == HISTORY_PAGE,
            },
        )

    @get("/conversations/{conversation_id:uuid}/controls", name="controls")
    async def controls(
        self, db_session: DB, current_user: CurrentUser, conversation: Scoped
    ) -> Template:
        return await self._controls(db_session, current_user, conversation)

    async def _controls(self, db: AsyncSession, user: User, conversation: Conversation) -> Template:
        return await controls_template(db, user, conversation)

    @post("/conversations/{conversation_id:uuid}/messages", name="compose", status_code=200)
    async def compose(
        self,
        db_session: DB,
        current_user: CurrentUser,
        actions: Actions,
        conversation: Scoped,
        data: URLEncodedBody[ComposerForm],
    ) -> Template:
        # The composer keeps one id per draft (static/dashboard/dashboard.js): a retried send
        # answers with the stored message. An empty field is no id at all.
        client_msg_id = data.client_msg_id or None
        files = parse_ids(data.attachment_ids)
        if data.kind == "note":
            if files:
                raise InvalidInputError(N_("Files go with a message to the visitor, not a note."))
            message = await actions.note(conversation, current_user, data.body, client_msg_id)
        else:
            message, _ = await actions.reply(
                conversation, current_user, data.body, client_msg_id, files
            )
        return Template(
            "dashboard/partials/message.html",
            context={"message": message, "conversation": conversation, "user": current_user},
        )

    async def after_action(
        self, db: AsyncSession, user: User, conversation: Conversation
    ) -> Template:
        return await self._controls(db, user, conversation)

    @post("/conversations/{conversation_id:uuid}/assign-me", name="assign_me", status_code=200)
    async def assign_me(
        self,
        db_session: DB,
        current_user: CurrentUser,
        actions: Actions,
        conversation: Scoped,
    ) -> Template:
        await actions.assign(conversation, current_user.id, current_user)
        return await self.after_action(db_session, current_user, conversation)

    @post("/conversations/{conversation_id:uuid}/assign", name="assign", status_code=200)
    async def assign(
        self,
        db_session: DB,
        current_user: CurrentUser,
        actions: Actions,
        conversation: Scoped,
        data: URLEncodedBody[AssignForm],
    ) -> Template:
        if data.assignee_id.isdigit():
            await actions.assign(conversation, int(data.assignee_id), current_user)
        else:
            await actions.unassign(conversation, current_user)
        return await self.after_action(db_session, current_user, conversation)

    @post("/conversations/{conversation_id:uuid}/status", name="status", status_code=200)
    async def status(
        self,
        db_session: DB,
        current_user: CurrentUser,
        actions: Actions,
        conversation: Scoped,
        data: URLEncodedBody[StatusForm],
    ) -> Template:
        await actions.change_status(conversation, data.status, current_user)
        return await self.after_action(db_session, current_user, conversation)

    @post("/conversations/{conversation_id:uuid}/priority", name="priority", status_code=200)
    async def priority(
        self,
        db_session: DB,
        current_user: CurrentUser,
        actions: Actions,
        conversation: Scoped,
        data: URLEncodedBody[PriorityForm],
    ) -> Template:
        await actions.set_priority(conversation, data.priority, current_user)
        return await self.after_action(db_session, current_user, conversation)

    @post("/conversations/{conversation_id:uuid}/typing", name="typing", status_code=204)
    async def typing(
        self,
        db_session: DB,
        current_user: CurrentUser,
        actions: Actions,
        conversation: Scoped,
        data: URLEncodedBody[TypingForm],
    ) -> None:
        await actions.typing(conversation, current_user, data.typing == "true")

    @post("/conversations/{conversation_id:uuid}/read", name="read", status_code=204)
    async def read(
        self,
        db_session: DB,
        current_user: CurrentUser,
        actions: Actions,
        conversation: Scoped,
        data: URLEncodedBody[ReadForm],
    ) -> None:
        await actions.mark_read(conversation, data.up_to_id)

    @get("/attachments/{attachment_id:uuid}", name="staff_attachment")
    async def attachment(
        self,
        db_session: DB,
        current_user: CurrentUser,
        storage: NamedDependency[SkipValidation[Storage]],
        attachment_id: FromPath[UUID],
    ) -> Stream:
        attachment = await db_session.get(Attachment, attachment_id)
        conversation = (
            await db_session.get(Conversation, attachment.conversation_id)
            if attachment is not None and attachment.conversation_id is not None
            else None
        )
        if attachment is None or conversation is None or not can_see(current_user, conversation):
            raise NotFoundException()
        return Stream(
            storage.stream(attachment.storage_key),
            media_type="application/octet-stream",
            headers={
                **download_headers(attachment.filename),
                "Content-Length": str(attachment.size_bytes),
            },
        )
