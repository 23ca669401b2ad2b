"""The conversation pane's satisfaction ratings, redrawn live on ``csat.submitted``."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.csat import ratings_of
from messenger.dashboard.controllers.unified import provide_conversation
from messenger.db.models import Conversation

DB = NamedDependency[AsyncSession]
Scoped = NamedDependency[Conversation]


class CsatPanelController(Controller):
    dependencies = {"conversation": Provide(provide_conversation)}

    @get("/conversations/{conversation_id:uuid}/csat", name="csat_panel")
    async def csat_panel(self, db_session: DB, conversation: Scoped) -> Template:
        """Branch scope: the conversation dependency answers 404 outside it."""
        return Template(
            "dashboard/partials/csat.html",
            context={
                "conversation": conversation,
                "ratings": await ratings_of(db_session, conversation.id),
            },
        )
