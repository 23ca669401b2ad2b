"""The operator's day tools on one conversation: labels, snooze, transfer (the header's
forms; each answers with the redrawn header, in the branch scope of the conversation)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency, Provide
from litestar.params import URLEncodedBody
from litestar.plugins.htmx import ClientRedirect
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.labels import add_label, remove_label
from messenger.conversations.rules import MAX_BODY_LENGTH, can_see
from messenger.conversations.snooze import snooze, snooze_time
from messenger.conversations.transfer import transfer
from messenger.dashboard.controllers.unified import controls_template, provide_conversation
from messenger.dashboard.deps import DashboardRequest
from messenger.dashboard.forms import int_or_none
from messenger.db.models import Conversation, User
from messenger.errors import InvalidInputError
from messenger.i18n import N_

CurrentUser = NamedDependency[User]
DB = NamedDependency[AsyncSession]
Scoped = NamedDependency[Conversation]


class LabelForm(msgspec.Struct):
    label_id: Annotated[str, msgspec.Meta(max_length=20)] = ""
    action: Annotated[str, msgspec.Meta(max_length=10)] = "add"


class SnoozeForm(msgspec.Struct):
    preset: Annotated[str, msgspec.Meta(max_length=20)] = "hour"
    until: Annotated[str, msgspec.Meta(max_length=40)] = ""


class TransferForm(msgspec.Struct):
    branch_id: Annotated[str, msgspec.Meta(max_length=20)] = ""
    operator_id: Annotated[str, msgspec.Meta(max_length=20)] = ""
    note: Annotated[str, msgspec.Meta(max_length=MAX_BODY_LENGTH)] = ""


class DayToolsController(Controller):
    path = "/conversations/{conversation_id:uuid}"
    dependencies = {"conversation": Provide(provide_conversation)}

    @post("/labels", name="conversation_label", status_code=200)
    async def label(
        self,
        db_session: DB,
        current_user: CurrentUser,
        conversation: Scoped,
        data: URLEncodedBody[LabelForm],
    ) -> Template:
        label_id = int_or_none(data.label_id)
        if label_id is None:
            raise InvalidInputError(N_("Choose a label."))
        if data.action == "remove":
            await remove_label(db_session, conversation, current_user, label_id)
        else:
            await add_label(db_session, conversation, current_user, label_id)
        return await controls_template(db_session, current_user, conversation)

    @post("/snooze", name="conversation_snooze", status_code=200)
    async def snooze(
        self,
        db_session: DB,
        current_user: CurrentUser,
        conversation: Scoped,
        data: URLEncodedBody[SnoozeForm],
    ) -> Template:
        now = datetime.now(UTC)
        until = snooze_time(data.preset, now, current_user.timezone, data.until)
        await snooze(db_session, conversation, current_user, until, now)
        return await controls_template(db_session, current_user, conversation)

    @post("/transfer", name="conversation_transfer", status_code=200)
    async def transfer(
        self,
        request: DashboardRequest,
        db_session: DB,
        current_user: CurrentUser,
        conversation: Scoped,
        data: URLEncodedBody[TransferForm],
    ) -> Template | ClientRedirect:
        await transfer(
            db_session,
            conversation,
            current_user,
            branch_id=int_or_none(data.branch_id),
            operator_id=int_or_none(data.operator_id),
            note=data.note,
        )
        if not can_see(current_user, conversation):
            # Handed to a branch the operator is not in: back to the list.
            return ClientRedirect(request.app.route_reverse("conversations"))
        return await controls_template(db_session, current_user, conversation)
