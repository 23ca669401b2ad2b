"""Contacts of an inbox: the identified visitor's row, kept up to date by each identity.

Nothing here commits: the caller's unit of work does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from messenger.contacts.fields import clean_email, clean_name, clean_phone
from messenger.contacts.identity import check_identity
from messenger.db.models import Contact, Inbox, Visitor


@dataclass(frozen=True, slots=True)
class Identity:
    """What the page told (``ProfiMessenger.identify``), before it is checked."""

    identifier: str
    identity_hash: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None


def _lock_key(inbox_id: int, identifier: str) -> int:
    digest = hashlib.sha256(f"contact:{inbox_id}:{identifier}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ContactService:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def identify(self, inbox: Inbox, identity: Identity) -> Contact:
        """The inbox's contact with this identifier, created on its first identity, its
        name, e-mail and phone updated from the identity (and copied to its visitor, where
        operators see and search them). A wrong hash raises before anything is written."""
        check_identity(inbox.identity_secret, identity.identifier, identity.identity_hash)
        told = {
            "name": clean_name(identity.name),
            "email": clean_email(identity.email),
            "phone": clean_phone(identity.phone),
        }
        if self.db.bind.dialect.name == "postgresql":  # two devices' first bootstraps at once
            await self.db.execute(
                text("SELECT pg_advisory_xact_lock(:key)"),
                {"key": _lock_key(inbox.id, identity.identifier)},
            )
        contact = await self.by_identifier(inbox.id, identity.identifier)
        if contact is None:
            visitor = Visitor(id=uuid7(), inbox_id=inbox.id, **told)
            self.db.add(visitor)
            await self.db.flush()
            contact = Contact(
                inbox_id=inbox.id, identifier=identity.identifier, visitor_id=visitor.id, **told
            )
            self.db.add(contact)
            await self.db.flush()
            return contact
        changed = {k: v for k, v in told.items() if v is not None and getattr(contact, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(contact, key, value)
            visitor_row = await self.db.get(Visitor, contact.visitor_id)
            if visitor_row is not None:
                for key, value in changed.items():
                    setattr(visitor_row, key, value)
            await self.db.flush()
        return contact

    async def by_identifier(self, inbox_id: int, identifier: str) -> Contact | None:
        contact: Contact | None = await self.db.scalar(
            select(Contact).where(Contact.inbox_id == inbox_id, Contact.identifier == identifier)
        )
        return contact

    async def of_visitor(self, visitor_id: UUID) -> Contact | None:
        contact: Contact | None = await self.db.scalar(
            select(Contact).where(Contact.visitor_id == visitor_id)
        )
        return contact
