"""The operator's notification preference (sound on/off), saved on their account.

The notifications themselves are the staff stream's ``notify`` events
(:mod:`messenger.dashboard.controllers.stream`), shown by static/dashboard/notifications.js.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import URLEncodedBody
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.service import UserService
from messenger.db.models import User


class SoundForm(msgspec.Struct):
    #: "1" (a checked box): on; absent (an unchecked box sends nothing): off.
    sound: Annotated[str, msgspec.Meta(max_length=8)] = ""


class NotificationsController(Controller):
    @post("/account/notifications", name="account_notifications", status_code=204)
    async def save(
        self,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        data: URLEncodedBody[SoundForm],
    ) -> None:
        await UserService(session=db_session).set_notification_sound(
            current_user, on=data.sound in {"1", "on", "true"}
        )
