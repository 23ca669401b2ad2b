"""The application factory: ``uvicorn --factory messenger.app:create_app``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from messenger import __version__
from messenger.api.controllers import IntegrationController
from messenger.api_docs import VendoredScalarPlugin
from messenger.attachments.links import AttachmentLinks
from messenger.attachments.storage import Storage, storage_from_settings
from messenger.backends import Backends
from messenger.config import Settings, get_settings
from messenger.dashboard.deps import locale_hook
from messenger.dashboard.router import dashboard_router
from messenger.dashboard.sessions import TRUSTED_PROXIES_KEY, StaffSessionConfig, cookie_names
from messenger.db import alchemy_config
from messenger.db.direct import DirectDatabase
from messenger.demo.controllers import DemoController
from messenger.error_handlers import exception_handlers
from messenger.inboxes.cache import InboxCache
from messenger.logs import RequestLogMiddleware
from messenger.memory import return_large_blocks
from messenger.realtime.day_ticker import DayTicker
from messenger.realtime.publisher import Publisher
from messenger.realtime.transaction import commit_then_publish
from messenger.security_headers import SecurityHeadersMiddleware
from messenger.startup import check_default_branch
from messenger.system.controllers import MetricsController, SystemController
from messenger.templating import template_engine
from messenger.visitors.geo import GeoLocator
from messenger.widget.attachments import WidgetAttachmentController
from messenger.widget.calls import SessionCalls
from messenger.widget.challenge import Challenges
from messenger.widget.controllers import WidgetController
from messenger.widget.fastlane import FastLane
from messenger.widget.first_message import FirstMessage
from messenger.widget.hotpath import HotPath
from messenger.widget.middleware import WidgetEdge, WidgetEdgeMiddleware
from messenger.widget.sessions import SessionSigner, StreamTickets
from messenger.widget.stream import WidgetStreamController
from messenger.widget.throttle import Throttle
from messenger.widget.transcript import WidgetTranscriptController
from messenger.widget.visitor_calls import WidgetVisitorController
from messenger.widget.visits import Visits
from messenger.worker.runner import Worker

log = logging.getLogger("messenger")

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"
#: Paths that are not the dashboard: no operator session, no CSRF (the Widget API is
#: cross-site by design and is protected by the origin allowlist, tokens and throttling).
NON_DASHBOARD_PATHS = ["/api/", "/static/", "/schema", "/health", "/ready", "/metrics"]


@dataclass(frozen=True)
class AppServices:
    """The app's long-lived parts, built once per process from the settings: the one
    composition root. Handlers reach each by name through dependency injection."""

    settings: Settings
    backends: Backends
    alchemy: SQLAlchemyAsyncConfig
    signer: SessionSigner
    tickets: StreamTickets
    links: AttachmentLinks
    challenges: Challenges
    throttle: Throttle
    geo: GeoLocator
    storage: Storage
    publisher: Publisher
    inboxes: InboxCache
    visits: Visits
    #: The widget's hot path on its own asyncpg pool (PostgreSQL only; None on SQLite).
    direct: DirectDatabase | None
    calls: SessionCalls

    @classmethod
    def build(cls, settings: Settings) -> AppServices:
        secret = settings.require_secret_key()
        backends = Backends.from_settings(settings)
        alchemy = alchemy_config(settings)
        signer = SessionSigner(secret)
        links = AttachmentLinks(secret)
        publisher = Publisher(backends.channels, settings.redis_prefix, links, backends.state)
        alchemy.before_send_handler = commit_then_publish(publisher, alchemy.session_scope_key)
        inboxes = InboxCache(alchemy.get_session, backends.state)
        url = settings.effective_database_url
        direct = (
            DirectDatabase(
                url,
                settings.db_pool_size,
                transaction_pooler=settings.db_pooler == "transaction",
            )
            if url.startswith("postgresql")
            else None
        )
        tickets = StreamTickets(backends.state, signer)
        throttle = Throttle(backends.state, settings)
        geo = GeoLocator(settings.geoip_db_path if settings.geoip_enabled else None)
        storage = storage_from_settings(settings)
        visits = Visits(settings, signer, inboxes)
        challenges = Challenges(backends.state, secret, settings.widget_challenge_max_number)
        calls = SessionCalls(
            settings=settings,
            visits=visits,
            throttle=throttle,
            tickets=tickets,
            links=links,
            geo=geo,
            state=backends.state,
            storage=storage,
            sessions=alchemy.get_session,
            publisher=publisher,
            hot_path=HotPath(direct, publisher, links) if direct is not None else None,
            inboxes=inboxes,
            signer=signer,
            challenges=challenges,
            presence=backends.presence,
            first_message=FirstMessage(direct, publisher, links) if direct is not None else None,
        )
        return cls(
            settings=settings,
            backends=backends,
            alchemy=alchemy,
            signer=signer,
            tickets=tickets,
            links=links,
            challenges=challenges,
            throttle=throttle,
            geo=geo,
            storage=storage,
            publisher=publisher,
            inboxes=inboxes,
            visits=visits,
            direct=direct,
            calls=calls,
        )

    def dependencies(self) -> dict[str, Provide]:
        """``settings``, ``publisher``, ``storage``… by name; ``channels`` comes from the
        Channels plugin and ``db_session`` from the database plugin."""

        def constant(value: object) -> Provide:
            return Provide(lambda: value, use_cache=True, sync_to_thread=False)

        named: dict[str, object] = {
            "settings": self.settings,
            "public_url": self.settings.public_url,
            "signer": self.signer,
            "tickets": self.tickets,
            "links": self.links,
            "challenges": self.challenges,
            "throttle": self.throttle,
            "geo": self.geo,
            "storage": self.storage,
            "publisher": self.publisher,
            "shared_state": self.backends.state,
            "presence": self.backends.presence,
            "backends": self.backends,
            "sessions": self.alchemy.get_session,
            "inboxes": self.inboxes,
            "visits": self.visits,
            "calls": self.calls,
        }
        return {name: constant(value) for name, value in named.items()}

    async def close(self) -> None:
        self.geo.close()
        if self.direct is not None:
            await self.direct.close()
        await self.backends.close()


class MessengerApp(Litestar):
    """Litestar, with the widget's send and poll met before Litestar's own entry.

    Litestar's ``__call__`` wraps every response's ``send`` to run the ``before_send``
    hooks (the database plugin's commit-then-publish) on each message; the fast lane's
    answers use no request-scoped session, and that wrapper was a tenth of a poll's CPU
    under load (docs/performance.md). Every other request, and anything the fast lane
    hands over, goes through ``Litestar.__call__`` unchanged."""

    fast_lane: FastLane | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        lane = self.fast_lane
        if lane is None or scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = scope["litestar_app"] = self  # what Litestar.__call__ sets
        scope.setdefault("state", {})
        await lane(scope, receive, send)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    # Sign-ins hash in threads: without this each hashing thread keeps its block (memory.py).
    return_large_blocks()
    services = AppServices.build(settings)
    edge = WidgetEdge(settings=settings, inboxes=services.inboxes)
    before_request = locale_hook(settings.default_locale)
    secure_cookies = settings.public_url.startswith("https://")
    # ``__Host-`` names and Secure under https; plain names under http (local dev).
    session_cookie, csrf_cookie = cookie_names(settings.public_url)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        # Embedded mode (SQLite, in-memory): the job worker runs in this process, since
        # there is no second process to run it and no Redis to hand jobs over with.
        embedded_worker = (
            Worker(settings, services.alchemy.get_session, services.publisher, dialect="sqlite")
            if settings.embedded
            else None
        )
        task = asyncio.create_task(embedded_worker.run()) if embedded_worker else None
        # Snooze wake-up and the offline return to the pool (messenger.realtime.day_ticker).
        ticker = DayTicker(
            services.alchemy.get_session,
            services.publisher,
            services.backends.presence,
            interval=settings.day_ticker_seconds,
            offline_minutes=settings.assignment_offline_minutes,
        )
        ticker.start()
        try:
            yield
        finally:
            await ticker.stop()
            if embedded_worker is not None and task is not None:
                embedded_worker.stop()
                await task
            await services.close()

    async def check_default_branch_on_start(_: Litestar) -> None:
        await check_default_branch(settings, services.alchemy)

    app = MessengerApp(
        route_handlers=[
            SystemController,
            MetricsController,
            dashboard_router,
            WidgetController,
            WidgetVisitorController,
            WidgetTranscriptController,
            WidgetStreamController,
            WidgetAttachmentController,
            IntegrationController,
            DemoController,
            create_static_files_router(path="/static", directories=[STATIC_DIR]),
        ],
        dependencies=services.dependencies(),
        state=State({TRUSTED_PROXIES_KEY: settings.trusted_proxies}),
        before_request=before_request,
        middleware=[
            RequestLogMiddleware,
            DefineMiddleware(SecurityHeadersMiddleware, https=secure_cookies),
            DefineMiddleware(WidgetEdgeMiddleware, edge=edge),
            StaffSessionConfig(
                store="sessions",
                key=session_cookie,
                max_age=12 * 3600,
                secure=secure_cookies,
                httponly=True,
                samesite="lax",
                exclude=NON_DASHBOARD_PATHS,
            ).middleware,
        ],
        csrf_config=CSRFConfig(
            secret=settings.require_secret_key(),
            cookie_name=csrf_cookie,
            cookie_secure=secure_cookies,
            cookie_samesite="lax",
            header_name="x-csrftoken",
            exclude=NON_DASHBOARD_PATHS,
        ),
        template_config=TemplateConfig(instance=template_engine(TEMPLATES_DIR)),
        plugins=[SQLAlchemyPlugin(config=services.alchemy), services.backends.channels],
        stores=services.backends.stores,
        on_startup=[check_default_branch_on_start],
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Messenger API",
            version=__version__,
            description=(
                "The Widget API (under /api/widget/, tag `widget`) that the embeddable widget "
                "speaks; the integration REST API (under /api/v1/, tag `integration`) for the "
                "CRM and scripts, with an API token; and the operational endpoints."
            ),
            path="/schema",
            render_plugins=[VendoredScalarPlugin()],  # same-origin, pinned assets only
            components=Components(
                security_schemes={
                    "session": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="The widget session token from /api/widget/bootstrap.",
                    ),
                    "api_token": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description=(
                            "An API token (admin page or `messenger api-token create`), "
                            "in the Authorization header only."
                        ),
                    ),
                }
            ),
        ),
        exception_handlers=exception_handlers(settings.default_locale),
        debug=False,
        logging_config=None,  # logging is ours: JSON lines, see messenger.logs
    )
    # The widget's send and poll, served in front of the router and the middlewares with the
    # same calls, edge, headers, log line and error handlers (messenger.widget.fastlane).
    # ``app`` stays a Litestar instance (uvicorn, the CLI and the test client are given it,
    # with its lifespan); what the fast lane does not serve goes to ``Litestar.__call__``.
    app.fast_lane = FastLane(
        partial(Litestar.__call__, app),
        calls=services.calls,
        edge=edge,
        exception_handlers=app.exception_handlers,
        https=secure_cookies,
        before_request=before_request,
    )
    return app


def create_served_app() -> Litestar:
    """``messenger serve``'s factory: :func:`create_app`, and every template compiled at
    start-up. Jinja compiles a template when it is first asked for - tens of ms for the
    unified messenger's page and its partials, in each worker - which would otherwise fall
    on the first operators after a start (each worker's first sign-in, list and
    conversation). Tests build apps without it: they start many and render few pages."""
    app = create_app()

    def compile_templates(app: Litestar) -> None:
        environment = app.template_engine.engine  # type: ignore[union-attr]
        for name in environment.list_templates(extensions=["html"]):
            environment.get_template(name)

    app.on_startup.append(compile_templates)
    return app
