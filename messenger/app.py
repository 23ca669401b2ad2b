"""The application factory: ``uvicorn --factory messenger.app:create_app``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import asyncpg
from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar, MediaType, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusConfig
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.template.config import TemplateConfig
from sqlalchemy import select
from sqlalchemy.exc import DataError, SQLAlchemyError

from messenger import __version__
from messenger.backends import Backends
from messenger.config import Settings, SettingsError, get_settings
from messenger.dashboard.router import dashboard_router
from messenger.db import alchemy_config
from messenger.db.models import Branch
from messenger.demo.controllers import DemoController
from messenger.errors import DomainError
from messenger.i18n import N_, gettext, negotiate, use_locale
from messenger.logs import RequestLogMiddleware
from messenger.metrics import WIDGET_REFUSALS
from messenger.system.controllers import MetricsController, SystemController
from messenger.templating import build_environment
from messenger.widget.controllers import WidgetController
from messenger.widget.middleware import WidgetEdgeMiddleware
from messenger.widget.runtime import WidgetRuntime

log = logging.getLogger("messenger")

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"
#: Paths that are not the dashboard: no operator session, no CSRF (the Widget API is
#: cross-site by design and is protected by the origin allowlist, tokens and throttling).
NON_DASHBOARD_PATHS = ["/api/", "/static/", "/schema", "/health", "/ready", "/metrics"]

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "throttled",
    503: "unavailable",
}


def error_body(code: str, detail: str, **extra: object) -> dict[str, object]:
    """Every JSON error looks like this: a stable English code and a human sentence."""
    return {"error": code, "detail": detail, **extra}


#: Litestar's own details, so that they are in the catalogs too.
_FRAMEWORK_DETAILS = (
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Bad Request"),
    N_("CSRF token verification failed"),
    N_("Request Entity Too Large"),
    N_("Sign in first."),
)


def _translated(request: Request, msgid: str) -> str:
    with use_locale(_request_locale(request)):
        return gettext(msgid)


def _request_locale(request: Request) -> str:
    """Widget API errors speak the widget's language (its Accept-Language), staff pages
    the operator's; the ``error`` code stays English and stable."""
    settings = request.app.state.settings
    session = request.scope.get("session") or {}
    preferred = session.get("locale") if isinstance(session, dict) else None
    return negotiate(preferred, request.headers.get("accept-language"), settings.default_locale)


def _domain_error(request: Request, exc: DomainError) -> Response:
    with use_locale(_request_locale(request)):
        detail = exc.translated()
    retry_after = exc.extra.get("retry_after")
    if exc.status_code in {428, 429}:
        reason = str(exc.extra.get("limit", exc.code))
        WIDGET_REFUSALS.labels(status=str(exc.status_code), reason=reason).inc()
    return Response(
        error_body(exc.code, detail, **exc.extra),
        status_code=exc.status_code,
        media_type=MediaType.JSON,
        headers={"Retry-After": str(retry_after)} if retry_after is not None else None,
    )


def _undecodable_body(request: Request, exc: Exception) -> Response:
    """Bodies msgspec cannot even decode (invalid UTF-8, absurd nesting) or values the
    database cannot store (a NUL character): the client's mistake, said as such."""
    log.info(
        "refused an undecodable value on %s %s (%s)",
        request.method,
        request.url.path,
        type(exc).__name__,
    )
    return Response(
        error_body(
            "invalid",
            _translated(request, N_("The request contains data that cannot be decoded or stored.")),
        ),
        status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        media_type=MediaType.JSON,
    )


def _validation_error(request: Request, exc: ValidationException) -> Response:
    with use_locale(_request_locale(request)):
        detail = gettext(N_("The request is invalid; see errors."))
    return Response(
        error_body("invalid", detail, errors=exc.extra or []),
        status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        media_type=MediaType.JSON,
    )


def _http_error(request: Request, exc: HTTPException) -> Response:
    code = _STATUS_CODES.get(exc.status_code, "error")
    with use_locale(_request_locale(request)):
        detail = gettext(exc.detail)
    return Response(
        error_body(code, detail),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type=MediaType.JSON,
    )


def _not_signed_in(request: Request, exc: NotAuthorizedException) -> Response:
    """Dashboard pages send a visitor without a session to the sign-in page."""
    if request.url.path.startswith("/api/"):
        return _http_error(request, exc)
    if request.headers.get("hx-request"):
        return Response(b"", status_code=401, headers={"HX-Redirect": "/login"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={quote(target, safe='')}", status_code=303)


def _unexpected_error(request: Request, exc: Exception) -> Response:
    # Logged with the traceback for us; the client gets a sentence, never a stack trace.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response(
        error_body(
            "internal_error",
            _translated(request, N_("Something went wrong on our side; please try again.")),
        ),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        media_type=MediaType.JSON,
    )


async def check_default_branch(app: Litestar) -> None:
    """Fail start-up when ``MESSENGER_DEFAULT_BRANCH_ID`` names no branch."""
    settings: Settings = app.state.settings
    if settings.default_branch_id is None:
        return
    config = app.state.alchemy_config
    try:
        async with config.get_session() as session:
            branch = await session.scalar(
                select(Branch).where(Branch.id == settings.default_branch_id)
            )
    except (SQLAlchemyError, OSError, asyncpg.PostgresError) as exc:
        raise SettingsError(
            "MESSENGER_DEFAULT_BRANCH_ID",
            f"cannot check branch {settings.default_branch_id}: the database is not ready "
            f"({type(exc).__name__}); run 'messenger db upgrade' first",
        ) from None
    if branch is None:
        raise SettingsError(
            "MESSENGER_DEFAULT_BRANCH_ID",
            f"there is no branch with id {settings.default_branch_id}; "
            "create it with 'messenger branch create' or fix the value",
        )


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    secret = settings.require_secret_key()
    backends = Backends.from_settings(settings)
    secure_cookies = settings.public_url.startswith("https://")
    widget = WidgetRuntime.build(settings, backends, secret)
    config = alchemy_config(settings)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            widget.geo.close()
            await backends.close()

    return Litestar(
        route_handlers=[
            SystemController,
            MetricsController,
            dashboard_router,
            WidgetController,
            DemoController,
            create_static_files_router(path="/static", directories=[STATIC_DIR]),
        ],
        middleware=[
            RequestLogMiddleware,
            PrometheusConfig(
                app_name="messenger",
                prefix="messenger",
                group_path=True,
                exclude=["/metrics", "/static/"],
            ).middleware,
            WidgetEdgeMiddleware,
            ServerSideSessionConfig(
                store="sessions",
                key="messenger_session",
                max_age=12 * 3600,
                secure=secure_cookies,
                httponly=True,
                samesite="lax",
                exclude=NON_DASHBOARD_PATHS,
            ).middleware,
        ],
        csrf_config=CSRFConfig(
            secret=secret,
            cookie_name="messenger_csrf",
            cookie_secure=secure_cookies,
            cookie_samesite="lax",
            header_name="x-csrftoken",
            exclude=NON_DASHBOARD_PATHS,
        ),
        template_config=TemplateConfig(
            instance=JinjaTemplateEngine.from_environment(build_environment(TEMPLATES_DIR))
        ),
        plugins=[SQLAlchemyPlugin(config=config), backends.channels],
        stores=backends.stores,
        state=State(
            {
                "settings": settings,
                "backends": backends,
                "alchemy_config": config,
                "widget": widget,
            }
        ),
        on_startup=[check_default_branch],
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Messenger API",
            version=__version__,
            description=(
                "The Widget API (under /api/widget/) that the embeddable widget and "
                "integrators speak, and the operational endpoints."
            ),
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
            components=Components(
                security_schemes={
                    "session": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="The widget session token from /api/widget/bootstrap.",
                    )
                }
            ),
        ),
        exception_handlers={
            DomainError: _domain_error,
            ValidationException: _validation_error,
            NotAuthorizedException: _not_signed_in,
            UnicodeDecodeError: _undecodable_body,
            RecursionError: _undecodable_body,
            DataError: _undecodable_body,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
        debug=False,
        logging_config=None,  # logging is ours: JSON lines, see messenger.logs
    )
