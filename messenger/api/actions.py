"""What the integration API changes, through the dashboard's own staff actions
(:class:`messenger.conversations.actions.StaffActions`): the same rules, the same events,
published after the request's commit like every change made in the dashboard."""

from __future__ import annotations

import msgspec

from messenger.accounts.service import UserService
from messenger.api import schemas
from messenger.conversations.actions import StaffActions
from messenger.conversations.actors import Actor, IntegrationActor
from messenger.conversations.rules import can_see
from messenger.db.models import Conversation, Message, User
from messenger.errors import InvalidInputError
from messenger.i18n import N_


class ApiActions:
    def __init__(self, actions: StaffActions) -> None:
        self.actions = actions
        self.users = UserService(session=actions.conversations.repository.session)

    async def _staff(self, email: str, conversation: Conversation) -> User:
        """The active member of staff with this e-mail who may see ``conversation``."""
        user = await self.users.get_by_email(email)
        if user is None or not can_see(user, conversation):
            raise InvalidInputError(
                N_("%(email)s is not an active member of staff who can see this conversation."),
                params={"email": email},
            )
        return user

    async def send(
        self, conversation: Conversation, caller: IntegrationActor, data: schemas.SendRequest
    ) -> tuple[Message, bool]:
        """A reply or a note, as ``author_email`` or as the token; ``(message, created)``."""
        author: Actor = caller
        if data.author_email is not None:
            author = await self._staff(data.author_email, conversation)
        if data.kind == "note":
            return await self.actions.write_note(
                conversation, author, data.body, data.client_msg_id
            )
        return await self.actions.reply(conversation, author, data.body, data.client_msg_id)

    async def patch(
        self, conversation: Conversation, caller: IntegrationActor, data: schemas.ConversationPatch
    ) -> None:
        """Status, then priority, then assignee; a refusal of any changes nothing (the
        request rolls back)."""
        if data.status is not msgspec.UNSET:
            await self.actions.change_status(conversation, data.status, caller)
        if data.priority is not msgspec.UNSET:
            await self.actions.set_priority(conversation, data.priority, caller)
        if data.assignee_email is None:
            await self.actions.unassign(conversation, caller)
        elif data.assignee_email is not msgspec.UNSET:
            assignee = await self.users.get_by_email(data.assignee_email)
            if assignee is None:
                raise InvalidInputError(
                    N_("There is no member of staff with e-mail %(email)s."),
                    params={"email": data.assignee_email},
                )
            await self.actions.assign(conversation, assignee.id, caller)
