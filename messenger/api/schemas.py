"""The integration API's request and response bodies (msgspec): the contract in code.

Requests refuse unknown fields and bound every size, so bad input is a 422 with the
Widget API's error body before a handler runs. Every struct carries an example for
``/schema``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from messenger.conversations.rules import MAX_BODY_LENGTH

_NO_NUL = r"^[^\x00]*$"
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=_NO_NUL)]
ClientMsgId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="The caller's id of this write: a retry with the same id stores nothing new",
    ),
]
Status = Literal["open", "pending", "resolved", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]


class _In(msgspec.Struct, forbid_unknown_fields=True):
    pass


class SendRequest(_In):
    """A reply to the visitor (``message``) or an internal note (``note``)."""

    body: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_BODY_LENGTH, pattern=_NO_NUL)]
    client_msg_id: ClientMsgId
    kind: Literal["message", "note"] = "message"
    author_email: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=3,
                max_length=320,
                pattern=_NO_NUL,
                description=(
                    "Write as this active member of staff, who must see the conversation; "
                    "left out: written under the API token's name"
                ),
            ),
        ]
        | None
    ) = None


class ConversationPatch(_In):
    """Only the fields present change; ``"assignee_email": null`` unassigns."""

    status: Status | msgspec.UnsetType = msgspec.UNSET
    priority: Priority | msgspec.UnsetType = msgspec.UNSET
    assignee_email: Email | msgspec.UnsetType | None = msgspec.UNSET


class InboxRef(msgspec.Struct):
    id: int
    name: str


class BranchRef(msgspec.Struct):
    id: int
    name: str


class StaffRef(msgspec.Struct):
    id: int
    name: str
    email: str


class VisitorOut(msgspec.Struct):
    id: str
    name: str | None
    email: str | None
    phone: str | None
    locale: str | None
    country: str | None
    city: str | None
    page_url: str | None


class ConversationOut(msgspec.Struct):
    id: str
    status: Status
    priority: Priority
    channel: Literal["chat", "offline_form"]
    inbox: InboxRef
    branch: BranchRef | None
    visitor: VisitorOut
    #: The contact (identified visitor), when the server keeps contacts; else null.
    contact: dict[str, str | None] | None
    assignee: StaffRef | None
    labels: list[str]
    unread_count: int
    created_at: str
    last_activity_at: str


class ConversationPage(msgspec.Struct):
    items: list[ConversationOut]
    next_cursor: str | None


class AuthorOut(msgspec.Struct):
    name: str
    #: A member of staff's e-mail; null for an API token or a visitor.
    email: str | None = None


class AttachmentOut(msgspec.Struct):
    id: str
    filename: str
    content_type: str
    size: int
    url: str


class MessageOut(msgspec.Struct):
    id: int
    conversation_id: str
    kind: Literal["message", "note", "event"]
    sender: Literal["visitor", "operator", "system"]
    body: str
    author: AuthorOut | None
    client_msg_id: str | None
    created_at: str
    delivered_at: str | None
    read_at: str | None
    attachments: list[AttachmentOut]


class MessagePage(msgspec.Struct):
    items: list[MessageOut]
    next_cursor: str | None


class ContactConversation(msgspec.Struct):
    id: str
    status: Status
    inbox_id: int
    branch_id: int | None
    last_activity_at: str


class ContactOut(msgspec.Struct):
    id: str
    identifier: str | None
    name: str | None
    email: str | None
    phone: str | None
    inbox_id: int
    conversations: list[ContactConversation]


class ContactPage(msgspec.Struct):
    items: list[ContactOut]
    next_cursor: str | None


class ErrorBody(msgspec.Struct):
    error: str
    detail: str
    retry_after: int | None = None
