"""saved replies, GeoIP names in Russian, the operator's notification sound

Revision ID: 0006_saved_replies_referrer
Revises: 0005_assignment_labels_snooze
Create Date: 2026-11-30 03:55:00.000000

- ``saved_replies``: prepared answers, global (no branch, no owner), of a branch, or
  personal (an owner); ``messenger/replies/service.py`` says who sees which.
- ``visitors.country_ru`` / ``visitors.city_ru``: the GeoIP place names in Russian next to
  the English ones (``country`` / ``city``), for staff reading Russian and for routing
  rules written in either language. (``visitors.referrer`` existed already; it is now filled.)
- ``users.notification_sound``: the operator's sound on/off for notifications.
- ``attachments.uploaded_by_id``: the operator who uploaded a file from the composer (null:
  a visitor's upload); only they may send it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0006_saved_replies_referrer"
down_revision: str | None = "0005_assignment_labels_snooze"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "saved_replies",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shortcut", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("branch_id", _ID, nullable=True),
        sa.Column("owner_id", _ID, nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint(
            "branch_id IS NULL OR owner_id IS NULL", name=op.f("ck_saved_replies_one_scope")
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"],
            ["branches.id"],
            name=op.f("fk_saved_replies_branch_id_branches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_saved_replies_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_replies")),
    )
    with op.batch_alter_table("saved_replies", schema=None) as batch_op:
        batch_op.create_index("ix_saved_replies_branch_id", ["branch_id"], unique=False)
        batch_op.create_index("ix_saved_replies_owner_id", ["owner_id"], unique=False)
        batch_op.create_index("ix_saved_replies_shortcut", ["shortcut"], unique=False)
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("country_ru", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("city_ru", sa.String(length=100), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notification_sound", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uploaded_by_id", _ID, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_attachments_uploaded_by_id_users"),
            "users",
            ["uploaded_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_attachments_uploaded_by_id_users"), type_="foreignkey")
        batch_op.drop_column("uploaded_by_id")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("notification_sound")
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.drop_column("city_ru")
        batch_op.drop_column("country_ru")
    with op.batch_alter_table("saved_replies", schema=None) as batch_op:
        batch_op.drop_index("ix_saved_replies_shortcut")
        batch_op.drop_index("ix_saved_replies_owner_id")
        batch_op.drop_index("ix_saved_replies_branch_id")
    op.drop_table("saved_replies")
