"""Every error a client can meet, answered the same way: JSON ``{"error", "detail", ...}``
with a stable English code and a sentence in the caller's language (never a stack trace).

:func:`exception_handlers` is built by the composition root with the settings it needs.
"""

from __future__ import annotations

import html
import logging
from functools import partial
from typing import Any
from urllib.parse import quote

from asyncpg.exceptions import TooManyConnectionsError
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.response import Redirect
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DataError, InterfaceError, OperationalError

from messenger.db.direct import DatabaseUnavailableError
from messenger.errors import DomainError
from messenger.i18n import N_, gettext, negotiate, use_locale
from messenger.metrics import WIDGET_REFUSALS

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


#: Litestar's own details, so that they are in the catalogs too.
_FRAMEWORK_DETAILS = (
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Bad Request"),
    N_("CSRF token verification failed"),
    N_("Request Entity Too Large"),
    N_("Sign in first."),
)


def _translated(default_locale: str, request: Request[Any, Any, Any], msgid: str) -> str:
    with use_locale(_request_locale(default_locale, request)):
        return gettext(msgid)


def _request_locale(default_locale: str, request: Request[Any, Any, Any]) -> str:
    """Widget API errors speak the widget's language (its Accept-Language), staff pages
    the operator's; the ``error`` code stays English and stable."""
    session = request.scope.get("session") or {}
    preferred = session.get("locale") if isinstance(session, dict) else None
    return negotiate(preferred, request.headers.get("accept-language"), default_locale)


def _domain_error(
    default_locale: str, request: Request[Any, Any, Any], exc: DomainError
) -> Response[Any]:
    with use_locale(_request_locale(default_locale, request)):
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


def _undecodable_body(
    default_locale: str, request: Request[Any, Any, Any], exc: Exception
) -> Response[Any]:
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
            _translated(
                default_locale,
                request,
                N_("The request contains data that cannot be decoded or stored."),
            ),
        ),
        status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        media_type=MediaType.JSON,
    )


def _validation_error(
    default_locale: str, request: Request[Any, Any, Any], exc: ValidationException
) -> Response[Any]:
    with use_locale(_request_locale(default_locale, request)):
        detail = gettext(N_("The request is invalid; see errors."))
    return Response(
        error_body("invalid", detail, errors=exc.extra or []),
        status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        media_type=MediaType.JSON,
    )


def _http_error(
    default_locale: str, request: Request[Any, Any, Any], exc: HTTPException
) -> Response[Any]:
    code = _STATUS_CODES.get(exc.status_code, "error")
    with use_locale(_request_locale(default_locale, request)):
        detail = gettext(exc.detail)
    return Response(
        error_body(code, detail),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type=MediaType.JSON,
    )


def _not_signed_in(
    default_locale: str, request: Request[Any, Any, Any], exc: NotAuthorizedException
) -> Response[Any]:
    """Dashboard pages send a visitor without a session to the sign-in page."""
    if request.url.path.startswith("/api/"):
        return _http_error(default_locale, request, exc)
    if request.headers.get("hx-request"):
        return Response(b"", status_code=401, headers={"HX-Redirect": "/login"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={quote(target, safe='')}", status_code=303)


#: Seconds a client is asked to wait when a backing service (Redis) does not answer.
UNAVAILABLE_RETRY_AFTER = 5


def _service_unavailable(
    default_locale: str, request: Request[Any, Any, Any], exc: Exception
) -> Response[Any]:
    """Redis or PostgreSQL does not answer (down, restarting, unreachable, out of
    connections): a clear 503 with
    ``Retry-After``, JSON for the APIs and a short page for staff, never a 500."""
    log.warning(
        "a backing service is unavailable on %s %s (%s)",
        request.method,
        request.url.path,
        type(exc).__name__,
    )
    detail = _translated(
        default_locale,
        request,
        N_("The service is temporarily unavailable; please try again in a few seconds."),
    )
    headers = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)}
    wants_page = not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )
    if wants_page and not request.headers.get("hx-request"):
        title = html.escape(detail)
        page = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><h1>503</h1><p role='alert'>{title}</p></body></html>"
        )
        return Response(page, status_code=503, media_type=MediaType.HTML, headers=headers)
    return Response(
        error_body("unavailable", detail, retry_after=UNAVAILABLE_RETRY_AFTER),
        status_code=503,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _runtime_error(
    default_locale: str, request: Request[Any, Any, Any], exc: RuntimeError
) -> Response[Any]:
    """Litestar's multipart extractor lets a ``StopIteration`` escape when a form has no
    file part where the handler takes an ``UploadFile`` (the coroutine then raises
    ``RuntimeError``): that is the client's malformed body, a 400, not a server error."""
    content_type = request.headers.get("content-type", "")
    if isinstance(exc.__cause__, StopIteration) and content_type.startswith("multipart/"):
        log.info("refused a multipart body without a file on %s", request.url.path)
        return Response(
            error_body(
                "bad_request",
                _translated(
                    default_locale, request, N_("The form has no file part; send the file.")
                ),
            ),
            status_code=400,
            media_type=MediaType.JSON,
        )
    return _unexpected_error(default_locale, request, exc)


def _unexpected_error(
    default_locale: str, request: Request[Any, Any, Any], exc: Exception
) -> Response[Any]:
    # Logged with the traceback for us; the client gets a sentence, never a stack trace.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Response(
        error_body(
            "internal_error",
            _translated(
                default_locale, request, N_("Something went wrong on our side; please try again.")
            ),
        ),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        media_type=MediaType.JSON,
    )


def exception_handlers(default_locale: str) -> ExceptionHandlersMap:
    def bound(handler: Any) -> Any:
        return partial(handler, default_locale)

    return {
        DomainError: bound(_domain_error),
        ValidationException: bound(_validation_error),
        NotAuthorizedException: bound(_not_signed_in),
        UnicodeDecodeError: bound(_undecodable_body),
        RecursionError: bound(_undecodable_body),
        DataError: bound(_undecodable_body),
        RedisConnectionError: bound(_service_unavailable),
        RedisTimeoutError: bound(_service_unavailable),
        # The database is down, restarting or out of connections: a 503, not a 500.
        DatabaseUnavailableError: bound(_service_unavailable),
        OperationalError: bound(_service_unavailable),
        InterfaceError: bound(_service_unavailable),
        TooManyConnectionsError: bound(_service_unavailable),
        # A database refusing connections outright (down, not yet up): asyncpg's connect
        # raises this as is, under SQLAlchemy's sessions too (the inbox cache's read).
        ConnectionRefusedError: bound(_service_unavailable),
        RuntimeError: bound(_runtime_error),
        HTTPException: bound(_http_error),
        Exception: bound(_unexpected_error),
    }
