"""Rows as the integration API shows them (the structs of :mod:`messenger.api.schemas`)."""

from __future__ import annotations

from datetime import datetime

from messenger.api import schemas
from messenger.attachments.links import AttachmentLinks
from messenger.conversations.listing import ConversationRow
from messenger.db.models import Contact, Conversation, Message, User, Visitor


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _staff(user: User | None) -> schemas.StaffRef | None:
    if user is None:
        return None
    return schemas.StaffRef(id=user.id, name=user.name, email=user.email)


def visitor_out(visitor: Visitor) -> schemas.VisitorOut:
    return schemas.VisitorOut(
        id=str(visitor.id),
        name=visitor.name,
        email=visitor.email,
        phone=visitor.phone,
        locale=visitor.locale,
        country=visitor.country,
        city=visitor.city,
        page_url=visitor.page_url,
    )


def contact_ref(contact: Contact) -> dict[str, str | None]:
    return {
        "id": str(contact.id),
        "identifier": contact.identifier,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
    }


def conversation_out(
    row: ConversationRow, contact: Contact | None = None
) -> schemas.ConversationOut:
    """A conversation with its visitor, inbox, branch and assignee loaded (and the contact
    its visitor is, if the site identified them)."""
    c: Conversation = row.conversation
    return schemas.ConversationOut(
        id=str(c.id),
        status=c.status.value,
        priority=c.priority.value,
        channel=c.channel.value,
        inbox=schemas.InboxRef(id=c.inbox.id, name=c.inbox.name),
        branch=schemas.BranchRef(id=c.branch.id, name=c.branch.name) if c.branch else None,
        visitor=visitor_out(c.visitor),
        contact=contact_ref(contact) if contact is not None else None,
        assignee=_staff(c.assignee),
        # A label's English name (its Russian one when that is all it has): stable for scripts.
        labels=[label.name_en or label.name_ru for label in row.labels],
        unread_count=row.unread,
        created_at=iso(c.created_at) or "",
        last_activity_at=iso(c.last_activity_at) or "",
    )


def _author(message: Message) -> schemas.AuthorOut | None:
    if message.author is not None:
        return schemas.AuthorOut(name=message.author.name, email=message.author.email)
    if message.author_name:
        return schemas.AuthorOut(name=message.author_name)
    return None


def message_out(message: Message, links: AttachmentLinks) -> schemas.MessageOut:
    """Any message, notes included (the API is staff-side), its author and attachments loaded."""
    return schemas.MessageOut(
        id=message.id,
        conversation_id=str(message.conversation_id),
        kind=message.kind.value,
        sender=message.sender.value,
        body=message.body,
        author=_author(message),
        client_msg_id=message.client_msg_id,
        created_at=iso(message.created_at) or "",
        delivered_at=iso(message.delivered_at),
        read_at=iso(message.read_at),
        attachments=[
            schemas.AttachmentOut(
                id=str(a.id),
                filename=a.filename,
                content_type=a.content_type,
                size=a.size_bytes,
                url=links.url(a.id),
            )
            for a in message.attachments
        ],
    )
