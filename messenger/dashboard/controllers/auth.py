"""Sign-in, sign-out, and the operator's own account (language, password)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter, SkipValidation, URLEncodedBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.accounts.service import UserService
from messenger.client_ip import client_ip
from messenger.config import Settings
from messenger.dashboard.deps import LOCALE_COOKIE, SESSION_LOCALE_KEY, DashboardRequest
from messenger.dashboard.sessions import (
    SESSION_EPOCH_KEY,
    load_session_user,
    renew_csrf,
    rotate_session,
    sign_in,
    sign_out,
    staff_actor,
)
from messenger.dashboard.signin import SignInGuard
from messenger.db import audit
from messenger.db.models import User
from messenger.errors import DomainError
from messenger.i18n import LOCALES
from messenger.i18n import gettext as _
from messenger.realtime.publisher import Publisher
from messenger.realtime.transaction import SessionFactory, transaction
from messenger.state import SharedState
from messenger.widget.challenge import Challenges


class LoginForm(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=320)] = ""
    password: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    next: Annotated[str, msgspec.Meta(max_length=2000)] = "/"
    #: The proof-of-work solution, when the page asked for one (base64 JSON, ALTCHA v1).
    altcha: Annotated[str, msgspec.Meta(max_length=2048)] = ""


class LocaleForm(msgspec.Struct):
    locale: str = ""
    next: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class PasswordForm(msgspec.Struct):
    current_password: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    new_password: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    confirm_password: Annotated[str, msgspec.Meta(max_length=1024)] = ""


def safe_next(target: str) -> str:
    """Only same-site paths: never an open redirect to another host."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


class AuthController(Controller):
    @get("/login", name="login")
    async def login_page(
        self,
        request: DashboardRequest,
        db_session: NamedDependency[AsyncSession],
        next_: Annotated[str, QueryParameter(name="next", max_length=2000)] = "/",
    ) -> Template | Redirect:
        if await load_session_user(request, db_session) is not None:
            return Redirect(safe_next(next_))
        return Template("auth/login.html", context={"next": safe_next(next_), "error": None})

    @post("/login", name="login_submit", status_code=303)
    async def login(
        self,
        request: DashboardRequest,
        db_session: NamedDependency[AsyncSession],
        settings: NamedDependency[SkipValidation[Settings]],
        shared_state: NamedDependency[SkipValidation[SharedState]],
        challenges: NamedDependency[SkipValidation[Challenges]],
        sessions: NamedDependency[SkipValidation[SessionFactory]],
        publisher: NamedDependency[SkipValidation[Publisher]],
        data: URLEncodedBody[LoginForm],
    ) -> Template | Redirect:
        ip = client_ip(request, settings.trusted_proxies)
        email = data.email.strip().lower()
        guard = SignInGuard(shared_state, challenges, settings)
        context = {"next": safe_next(data.next), "email": data.email, "challenge": None}
        verdict = await guard.before(email, ip, data.altcha or None)
        if verdict.wait_ms:
            seconds = max(1, -(-verdict.wait_ms // 1000))
            message = _("Too many sign-in attempts. Try again in %(seconds)d s.") % {
                "seconds": seconds
            }
            return Template(
                "auth/login.html",
                context={**context, "error": message},
                status_code=429,
                headers={"Retry-After": str(seconds)},
            )
        if verdict.challenge is not None:
            # Many attempts on this account (or from this address): each one now costs a
            # proof-of-work that the page solves and sends again; nobody is locked out.
            return Template(
                "auth/login.html",
                context={
                    **context,
                    "error": _(
                        "Many sign-in attempts were made on this account. Enter your "
                        "password again: your browser solves a short check with it."
                    ),
                    "challenge": msgspec.json.encode(verdict.challenge).decode(),
                },
                status_code=428,
            )
        user = await UserService(session=db_session).authenticate(email, data.password)
        if user is None:
            await guard.failed(email, ip)
            # The answer is a 400 (its transaction rolls back): the entry has its own.
            async with transaction(sessions, publisher) as own:
                audit.record(
                    own,
                    "auth.sign_in_failed",
                    actor=audit.Actor(None, email[:320] or "-", ip),
                )
            return Template(
                "auth/login.html",
                context={**context, "error": _("Wrong e-mail or password.")},
                status_code=400,
            )
        audit.record(
            db_session, "auth.sign_in", f"user:{user.id}", actor=staff_actor(request, user)
        )
        sign_in(request, user)
        if user.locale in LOCALES:
            # Only a saved choice is pinned; without one every request asks the browser's
            # Accept-Language, then MESSENGER_DEFAULT_LOCALE (issue 7's order).
            request.session[SESSION_LOCALE_KEY] = user.locale
        request.session["tz"] = user.timezone
        response = Redirect(safe_next(data.next), status_code=303)
        renew_csrf(request, response)
        return response

    @post("/logout", name="logout", status_code=303)
    async def logout(
        self, request: DashboardRequest, db_session: NamedDependency[AsyncSession]
    ) -> Redirect:
        user = await load_session_user(request, db_session)
        if user is not None:
            audit.record(
                db_session, "auth.sign_out", f"user:{user.id}", actor=staff_actor(request, user)
            )
        sign_out(request)
        return Redirect(request.app.route_reverse("login"), status_code=303)


class AccountController(Controller):
    @post("/account/locale", name="account_locale", status_code=303)
    async def switch_locale(
        self,
        request: DashboardRequest,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        data: URLEncodedBody[LocaleForm],
    ) -> Redirect:
        """Save the operator's language (kept for the next sign-in too)."""
        if data.locale in LOCALES:
            await UserService(session=db_session).set_locale(current_user, data.locale)
            request.session[SESSION_LOCALE_KEY] = data.locale
        back = safe_next(data.next or "/")
        response = Redirect(back, status_code=303)
        response.set_cookie(
            LOCALE_COOKIE, data.locale, max_age=365 * 86400, samesite="lax", httponly=True
        )
        return response

    @get("/account", name="account")
    async def account(self, current_user: NamedDependency[User]) -> Template:
        return Template(
            "dashboard/account.html", context={"user": current_user, "error": None, "done": False}
        )

    @post("/account/password", name="account_password", status_code=200)
    async def change_password(
        self,
        request: DashboardRequest,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        data: URLEncodedBody[PasswordForm],
    ) -> Template:
        """A new password ends every other session of this user (their streams close too);
        this session stays signed in under the new epoch."""
        users = UserService(session=db_session)
        error: str | None = None
        if await users.authenticate(current_user.email, data.current_password) is None:
            error = _("The current password is wrong.")
        elif data.new_password != data.confirm_password:
            error = _("The new passwords do not match.")
        else:
            try:
                user = await users.set_password(current_user.id, data.new_password)
            except DomainError:
                error = _("A password needs at least %(count)d characters.") % {"count": 8}
            else:
                request.session[SESSION_EPOCH_KEY] = user.session_epoch
                rotate_session(request)
                return Template(
                    "dashboard/account.html", context={"user": user, "error": None, "done": True}
                )
        return Template(
            "dashboard/account.html",
            context={"user": current_user, "error": error, "done": False},
            status_code=400,
        )
