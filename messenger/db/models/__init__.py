"""The data model. Import from here: every model is registered on the shared metadata."""

from messenger.db.models.api_token import ApiToken, api_token_branches
from messenger.db.models.attachment import Attachment
from messenger.db.models.audit_entry import AuditEntry
from messenger.db.models.branch import Branch
from messenger.db.models.contact import Contact
from messenger.db.models.conversation import Conversation
from messenger.db.models.csat_rating import CsatRating
from messenger.db.models.enums import (
    ConversationChannel,
    ConversationPriority,
    ConversationStatus,
    MessageKind,
    MessageSender,
    UserRole,
)
from messenger.db.models.inbox import Inbox
from messenger.db.models.label import Label, conversation_labels
from messenger.db.models.message import Message
from messenger.db.models.outbox import OutboxEntry, OutboxStatus
from messenger.db.models.routing_rule import RoutingRule
from messenger.db.models.saved_reply import SavedReply
from messenger.db.models.user import User, user_branches
from messenger.db.models.visitor import Visitor
from messenger.db.models.webhook_delivery import DeliveryStatus, WebhookDelivery
from messenger.db.models.webhook_endpoint import WebhookEndpoint
from messenger.db.models.worker_heartbeat import WorkerHeartbeat

__all__ = [
    "ApiToken",
    "Attachment",
    "AuditEntry",
    "Branch",
    "Contact",
    "Conversation",
    "ConversationChannel",
    "ConversationPriority",
    "ConversationStatus",
    "CsatRating",
    "DeliveryStatus",
    "Inbox",
    "Label",
    "Message",
    "MessageKind",
    "MessageSender",
    "OutboxEntry",
    "OutboxStatus",
    "RoutingRule",
    "SavedReply",
    "User",
    "UserRole",
    "Visitor",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WorkerHeartbeat",
    "api_token_branches",
    "conversation_labels",
    "user_branches",
]
