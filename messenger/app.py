"""The application factory: ``uvicorn --factory messenger.app:create_app``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar, MediaType, Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY, HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from messenger import __version__
from messenger.backends import Backends
from messenger.config import Settings, SettingsError, get_settings
from messenger.db import alchemy_config
from messenger.db.models import Branch
from messenger.errors import DomainError
from messenger.system.controllers import SystemController

log = logging.getLogger("messenger")

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


def _domain_error(_: Request, exc: DomainError) -> Response:
    return Response(
        error_body(exc.code, exc.detail, **exc.extra),
        status_code=exc.status_code,
        media_type=MediaType.JSON,
    )


def _validation_error(_: Request, exc: ValidationException) -> Response:
    return Response(
        error_body("invalid", str(exc.detail), errors=exc.extra or []),
        status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        media_type=MediaType.JSON,
    )


def _http_error(_: Request, exc: HTTPException) -> Response:
    code = _STATUS_CODES.get(exc.status_code, "error")
    return Response(
        error_body(code, exc.detail),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type=MediaType.JSON,
    )


def _unexpected_error(request: Request, exc: Exception) -> Response:
    # Logged with the traceback for us; the client gets a sentence, never a stack trace.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response(
        error_body("internal_error", "Something went wrong on our side; please try again."),
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
    except SQLAlchemyError as exc:
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
    backends = Backends.from_settings(settings)
    config = alchemy_config(settings)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await backends.close()

    return Litestar(
        route_handlers=[SystemController],
        plugins=[SQLAlchemyPlugin(config=config)],
        stores=backends.stores,
        state=State({"settings": settings, "backends": backends, "alchemy_config": config}),
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
        ),
        exception_handlers={
            DomainError: _domain_error,
            ValidationException: _validation_error,
            HTTPException: _http_error,
            Exception: _unexpected_error,
        },
        debug=False,
    )
