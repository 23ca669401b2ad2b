"""The dashboard as one Litestar ``Router``: what every staff page shares is said once here.

- no HTML route in the OpenAPI schema,
- authentication: the ``current_user`` dependency (401 → the sign-in page),
- ``HTMXRequest`` as the request class (``request.htmx``),
- the admin pages under ``/admin`` behind the ``admin_only`` guard (404 for operators).

The language of each request is set by the app's ``before_request`` hook
(:func:`messenger.dashboard.deps.locale_hook`, built with the settings).
"""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide
from litestar.plugins.htmx import HTMXRequest

from messenger.dashboard.controllers.account_timezone import AccountTimezoneController
from messenger.dashboard.controllers.api_tokens import ApiTokensController
from messenger.dashboard.controllers.audit_log import AuditLogController
from messenger.dashboard.controllers.auth import AccountController, AuthController
from messenger.dashboard.controllers.branches import BranchesController
from messenger.dashboard.controllers.composer_files import ComposerFilesController
from messenger.dashboard.controllers.customer import CsatPanelController
from messenger.dashboard.controllers.day import DayToolsController
from messenger.dashboard.controllers.inboxes import InboxesController
from messenger.dashboard.controllers.labels_admin import LabelsController
from messenger.dashboard.controllers.notifications import NotificationsController
from messenger.dashboard.controllers.operators import OperatorsController
from messenger.dashboard.controllers.reports import ReportsController
from messenger.dashboard.controllers.routing_rules import RoutingRulesController
from messenger.dashboard.controllers.saved_replies import SavedRepliesController
from messenger.dashboard.controllers.stream import StaffStreamController
from messenger.dashboard.controllers.unified import UnifiedMessengerController
from messenger.dashboard.controllers.visitor_privacy import VisitorPrivacyController
from messenger.dashboard.controllers.webhooks import WebhooksController
from messenger.dashboard.guards import admin_only
from messenger.dashboard.sessions import provide_signed_in_user

admin_router = Router(
    path="/admin",
    guards=[admin_only],
    route_handlers=[
        InboxesController,
        RoutingRulesController,
        BranchesController,
        OperatorsController,
        WebhooksController,
        ApiTokensController,
        LabelsController,
        AuditLogController,
        VisitorPrivacyController,
    ],
)

dashboard_router = Router(
    path="/",
    include_in_schema=False,
    dependencies={"current_user": Provide(provide_signed_in_user)},
    request_class=HTMXRequest,
    route_handlers=[
        AuthController,
        AccountController,
        AccountTimezoneController,
        UnifiedMessengerController,
        CsatPanelController,
        DayToolsController,
        NotificationsController,
        ComposerFilesController,
        SavedRepliesController,
        ReportsController,
        StaffStreamController,
        admin_router,
    ],
)
