"""The Widget API's request and response bodies (msgspec): the contract in code.

Unknown fields are refused (``forbid_unknown_fields``), sizes are bounded, so bad input is
a 4xx with a JSON body before any handler runs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from messenger.conversations.rules import MAX_BODY_LENGTH
from messenger.conversations.schemas import (  # the one message shape, shared with streams
    AttachmentOut,
    Author,
    ConversationOut,
    MessageOut,
)

__all__ = ["AttachmentOut", "Author", "ConversationOut", "MessageOut"]

# No NUL characters anywhere: PostgreSQL cannot store them in text.
_NO_NUL = r"^[^\x00]*$"
Str200 = Annotated[str, msgspec.Meta(max_length=200, pattern=_NO_NUL)]
Url = Annotated[str, msgspec.Meta(max_length=2000, pattern=_NO_NUL)]
ClientMsgId = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
Body = Annotated[str, msgspec.Meta(max_length=MAX_BODY_LENGTH, pattern=_NO_NUL)]


class _In(msgspec.Struct, forbid_unknown_fields=True):
    pass


class IdentityIn(_In):
    """A signed identity (``ProfiMessenger.identify``): ``identity_hash`` is
    hex(HMAC-SHA256(inbox identity secret, identifier)), computed by the site's server."""

    identifier: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=_NO_NUL)]
    identity_hash: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=_NO_NUL)]
    name: Annotated[str, msgspec.Meta(max_length=200, pattern=_NO_NUL)] | None = None
    email: Annotated[str, msgspec.Meta(max_length=320, pattern=_NO_NUL)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=64, pattern=_NO_NUL)] | None = None


class ContactIn(_In):
    """The pre-chat form's answers (checked against the inbox's ``prechat`` fields)."""

    name: Annotated[str, msgspec.Meta(max_length=200, pattern=_NO_NUL)] | None = None
    email: Annotated[str, msgspec.Meta(max_length=320, pattern=_NO_NUL)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=64, pattern=_NO_NUL)] | None = None
    consent: bool | None = None


class ContactRequest(_In):
    contact: ContactIn


class CsatRequest(_In):
    conversation_id: Annotated[str, msgspec.Meta(max_length=40, pattern=_NO_NUL)]
    rating: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: Annotated[str, msgspec.Meta(max_length=2000, pattern=_NO_NUL)] | None = None


class TranscriptRequest(_In):
    conversation_id: Annotated[str, msgspec.Meta(max_length=40, pattern=_NO_NUL)]
    email: Annotated[str, msgspec.Meta(max_length=320, pattern=_NO_NUL)] | None = None


class BootstrapRequest(_In):
    widget_token: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    session_token: Annotated[str, msgspec.Meta(max_length=512)] | None = None
    page_url: Url | None = None
    referrer: Url | None = None
    locale: Annotated[str, msgspec.Meta(max_length=35, pattern=_NO_NUL)] | None = None
    challenge_solution: Annotated[str, msgspec.Meta(max_length=2048)] | None = None
    identity: IdentityIn | None = None


class SendRequest(_In):
    body: Body
    client_msg_id: ClientMsgId
    attachment_ids: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=40)]], msgspec.Meta(max_length=10)
    ] = []
    page_url: Url | None = None
    contact: ContactIn | None = None
    #: ``document.referrer`` of the page (also sent in bootstrap, which stores nothing):
    #: kept on the visitor from their first message.
    referrer: Url | None = None


class TypingRequest(_In):
    typing: bool


class ReadRequest(_In):
    # A message id is a bigint; the poll's ``after`` has the same ceiling. Past 2**63 the
    # database driver refused the value (a 500 before this bound).
    up_to_id: Annotated[int, msgspec.Meta(ge=0, le=2**62)]


class OfflineRequest(_In):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=_NO_NUL)]
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=_NO_NUL)]
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_BODY_LENGTH, pattern=_NO_NUL)]
    client_msg_id: ClientMsgId
    phone: Annotated[str, msgspec.Meta(max_length=64, pattern=_NO_NUL)] | None = None
    page_url: Url | None = None
    referrer: Url | None = None
    challenge_solution: Annotated[str, msgspec.Meta(max_length=2048)] | None = None


class Privacy(msgspec.Struct):
    text: str
    url: str


class AttachmentPolicy(msgspec.Struct):
    enabled: bool
    max_bytes: int
    content_types: list[str]


class PrechatFieldOut(msgspec.Struct):
    name: Literal["name", "email", "phone", "consent"]
    required: bool


class PrechatOut(msgspec.Struct):
    enabled: bool
    fields: list[PrechatFieldOut]


class CsatPolicy(msgspec.Struct):
    enabled: bool


class IdentityOut(msgspec.Struct):
    """The contact this session belongs to (present only for a valid signed identity)."""

    identifier: str
    verified: bool = True


class ContactOut(msgspec.Struct):
    name: str | None
    email: str | None
    phone: str | None
    consent: bool


class TranscriptOut(msgspec.Struct):
    queued: bool


class CsatOut(msgspec.Struct):
    id: int
    conversation_id: str
    rating: int
    comment: str | None


class BootstrapResponse(msgspec.Struct):
    session_token: str
    conversation: ConversationOut | None
    messages: list[MessageOut]
    online: bool
    offline_message: str | None
    privacy: Privacy
    attachments: AttachmentPolicy
    locale: Literal["ru", "en"]
    greeting: str | None
    stream_ticket: str
    poll_interval_seconds: float
    appearance: dict[str, Any]
    prechat: PrechatOut
    csat: CsatPolicy
    identity: IdentityOut | None = None
    #: E-mail is set up: the widget may offer ``POST /transcript``.
    transcript: bool = False


class MessagesResponse(msgspec.Struct):
    messages: list[MessageOut]
    conversation: ConversationOut | None


class TicketResponse(msgspec.Struct):
    ticket: str
    expires_in: int


class ReadResponse(msgspec.Struct):
    up_to_id: int | None


class UploadResponse(msgspec.Struct):
    id: str
    filename: str
    content_type: str
    size: int


class ErrorBody(msgspec.Struct):
    error: str
    detail: str
    retry_after: int | None = None
    challenge: dict[str, Any] | None = None
