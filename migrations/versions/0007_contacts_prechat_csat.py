"""contacts (signed visitor identity), inbox identity secrets, CSAT ratings

Revision ID: 0007_contacts_prechat_csat
Revises: 0006_saved_replies_referrer
Create Date: 2026-11-30 03:50:00.000000

- ``inboxes.identity_secret``: the HMAC key of signed visitor identities
  (INTEGRATIONS.md §1); every existing inbox gets its own random secret here.
- ``contacts``: identified visitors, unique per inbox by ``identifier``, each speaking
  through one visitor row.
- ``csat_ratings``: one satisfaction rating per resolution of a conversation.
- ``visitors.consent_at``: when the pre-chat form's consent was given.

The pre-chat form needs no column: its settings live in ``inboxes.settings`` and its
values on the visitor (name, e-mail, phone) and the contact.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = "0007_contacts_prechat_csat"
down_revision: str | None = "0006_saved_replies_referrer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inboxes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_secret", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    inboxes = sa.table("inboxes", sa.column("id"), sa.column("identity_secret"))
    for (inbox_id,) in bind.execute(sa.select(inboxes.c.id)).all():
        bind.execute(
            inboxes.update()
            .where(inboxes.c.id == inbox_id)
            .values(identity_secret=secrets.token_hex(32))
        )
    with op.batch_alter_table("inboxes", schema=None) as batch_op:
        batch_op.alter_column("identity_secret", existing_type=sa.String(64), nullable=False)

    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent_at", DateTimeUTC(timezone=True), nullable=True))
    op.create_table(
        "contacts",
        sa.Column("id", GUID(length=16), nullable=False),
        sa.Column("inbox_id", sa.BigInteger(), nullable=False),
        sa.Column("identifier", sa.String(length=200), nullable=False),
        sa.Column("visitor_id", GUID(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbox_id"],
            ["inboxes.id"],
            name=op.f("fk_contacts_inbox_id_inboxes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["visitor_id"],
            ["visitors.id"],
            name=op.f("fk_contacts_visitor_id_visitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("inbox_id", "identifier", name="uq_contacts_inbox_identifier"),
        sa.UniqueConstraint("visitor_id", name=op.f("uq_contacts_visitor_id")),
    )
    op.create_table(
        "csat_ratings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("conversation_id", GUID(length=16), nullable=False),
        sa.Column("resolution_message_id", sa.BigInteger(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_csat_ratings_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolution_message_id"],
            ["messages.id"],
            name=op.f("fk_csat_ratings_resolution_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csat_ratings")),
        sa.UniqueConstraint(
            "conversation_id", "resolution_message_id", name="uq_csat_ratings_resolution"
        ),
    )
    with op.batch_alter_table("csat_ratings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_csat_ratings_conversation_id"), ["conversation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("csat_ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_csat_ratings_conversation_id"))
    op.drop_table("csat_ratings")
    op.drop_table("contacts")
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.drop_column("consent_at")
    with op.batch_alter_table("inboxes", schema=None) as batch_op:
        batch_op.drop_column("identity_secret")
