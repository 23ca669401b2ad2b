"""the operator's day: capacity and round-robin order, labels, snooze

Revision ID: 0005_assignment_labels_snooze
Revises: 0004_search_and_list_indexes
Create Date: 2026-11-30 04:00:00.000000

- ``users.capacity`` (the most open conversations auto-assignment gives an operator) and
  ``users.last_assigned_at`` (round-robin order);
- ``labels`` (coloured, named in Russian and English) and ``conversation_labels``;
- ``conversations.snoozed_until`` with a partial index for the wake-up.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

revision: str = "0005_assignment_labels_snooze"
down_revision: str | None = "0004_search_and_list_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SNOOZED = sa.text("snoozed_until IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("capacity", sa.Integer(), server_default="10", nullable=False))
        batch.add_column(sa.Column("last_assigned_at", DateTimeUTC(timezone=True), nullable=True))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("snoozed_until", DateTimeUTC(timezone=True), nullable=True))
    op.create_index(
        "ix_conversations_snoozed_until",
        "conversations",
        ["snoozed_until"],
        postgresql_where=_SNOOZED,
        sqlite_where=_SNOOZED,
    )
    op.create_table(
        "labels",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name_ru", sa.String(length=60), nullable=False),
        sa.Column("name_en", sa.String(length=60), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
    )
    op.create_table(
        "conversation_labels",
        sa.Column("conversation_id", GUID(length=16), nullable=False),
        sa.Column("label_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_labels_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["label_id"],
            ["labels.id"],
            name=op.f("fk_conversation_labels_label_id_labels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "label_id", name=op.f("pk_conversation_labels")),
    )
    op.create_index(
        "ix_conversation_labels_label", "conversation_labels", ["label_id", "conversation_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_conversation_labels_label", table_name="conversation_labels")
    op.drop_table("conversation_labels")
    op.drop_table("labels")
    op.drop_index("ix_conversations_snoozed_until", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("snoozed_until")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_assigned_at")
        batch.drop_column("capacity")
