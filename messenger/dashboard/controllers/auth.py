from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.service import UserService
from messenger.dashboard.auth import (
    load_session_user,
    provide_current_user,
    sign_in,
    sign_out,
)
from messenger.db.models import User


class LoginForm(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=320)] = ""
    password: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    next: Annotated[str, msgspec.Meta(max_length=2000)] = "/"


def safe_next(target: str) -> str:
    """Only same-site paths: never an open redirect to another host."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


class AuthController(Controller):
    include_in_schema = False

    @get("/login", name="login")
    async def login_page(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        next_: Annotated[str, QueryParameter(name="next", max_length=2000)] = "/",
    ) -> Template | Redirect:
        if await load_session_user(request, db_session) is not None:
            return Redirect(safe_next(next_))
        return Template("auth/login.html", context={"next": safe_next(next_), "error": None})

    @post("/login", status_code=303)
    async def login(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[LoginForm],
    ) -> Template | Redirect:
        user = await UserService(session=db_session).authenticate(data.email, data.password)
        if user is None:
            return Template(
                "auth/login.html",
                context={
                    "next": safe_next(data.next),
                    "error": "Wrong e-mail or password.",
                    "email": data.email,
                },
                status_code=400,
            )
        sign_in(request, user)
        return Redirect(safe_next(data.next), status_code=303)

    @post("/logout", status_code=303)
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        sign_out(request)
        return Redirect("/login", status_code=303)


class HomeController(Controller):
    include_in_schema = False
    dependencies = {"current_user": Provide(provide_current_user)}

    @get("/", name="home")
    async def home(self, current_user: NamedDependency[User]) -> Template:
        return Template("dashboard/home.html", context={"user": current_user})
