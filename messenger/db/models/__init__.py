"""The data model. Import from here: every model is registered on the shared metadata."""

from messenger.db.models.attachment import Attachment
from messenger.db.models.branch import Branch
from messenger.db.models.conversation import Conversation
from messenger.db.models.enums import (
    ConversationChannel,
    ConversationPriority,
    ConversationStatus,
    MessageKind,
    MessageSender,
    UserRole,
)
from messenger.db.models.inbox import Inbox
from messenger.db.models.message import Message
from messenger.db.models.routing_rule import RoutingRule
from messenger.db.models.saved_reply import SavedReply
from messenger.db.models.user import User, user_branches
from messenger.db.models.visitor import Visitor

__all__ = [
    "Attachment",
    "Branch",
    "Conversation",
    "ConversationChannel",
    "ConversationPriority",
    "ConversationStatus",
    "Inbox",
    "Message",
    "MessageKind",
    "MessageSender",
    "RoutingRule",
    "SavedReply",
    "User",
    "UserRole",
    "Visitor",
    "user_branches",
]
