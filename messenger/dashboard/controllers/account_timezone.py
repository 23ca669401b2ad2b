"""The operator's time zone on the account page (snooze presets and dates use it)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import URLEncodedBody
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.service import UserService
from messenger.dashboard.deps import DashboardRequest
from messenger.db.models import User


class TimezoneForm(msgspec.Struct):
    timezone: Annotated[str, msgspec.Meta(max_length=64)] = "UTC"


class AccountTimezoneController(Controller):
    @post("/account/timezone", name="account_timezone", status_code=303)
    async def save(
        self,
        request: DashboardRequest,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        data: URLEncodedBody[TimezoneForm],
    ) -> Redirect:
        user = await UserService(session=db_session).set_timezone(current_user, data.timezone)
        request.session["tz"] = user.timezone  # dates on the next pages use it
        return Redirect(request.app.route_reverse("account"), status_code=303)
