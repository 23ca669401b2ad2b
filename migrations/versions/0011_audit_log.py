"""The audit log: who changed configuration or access, when, from where, what

Revision ID: 0011_audit_log
Revises: 0010_reports_indexes
Create Date: 2026-11-30 04:40:00.000000

- ``audit_entries``: time, actor (id and e-mail at the time), IP, action, target, changes
  (JSON, secrets redacted); indexes for the admin page's filters;
- ``conversations.erased_at``: when the visitor's content was erased (erasure, retention);
- on PostgreSQL a trigger refuses any UPDATE of the table: it is append-only (only the
  retention prune deletes rows).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import ORA_JSONB, DateTimeUTC
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_audit_log"
down_revision: str | None = "0010_reports_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

REFUSE_UPDATE = """
CREATE FUNCTION audit_entries_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("actor_id", BIGINT, nullable=True),
        sa.Column("actor_email", sa.String(length=320), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column(
            "changes",
            sa.JSON()
            .with_variant(postgresql.JSONB(astext_type=sa.Text()), "cockroachdb")
            .with_variant(ORA_JSONB(), "oracle")
            .with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", DateTimeUTC(timezone=True), nullable=True))
    op.create_index("ix_audit_entries_at", "audit_entries", ["at"])
    op.create_index("ix_audit_entries_action_at", "audit_entries", ["action", "at"])
    op.create_index("ix_audit_entries_actor_id_at", "audit_entries", ["actor_id", "at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REFUSE_UPDATE)
        op.execute(
            "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE ON audit_entries "
            "FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_update()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries")
        op.execute("DROP FUNCTION IF EXISTS audit_entries_refuse_update()")
    op.drop_index("ix_audit_entries_actor_id_at", table_name="audit_entries")
    op.drop_index("ix_audit_entries_action_at", table_name="audit_entries")
    op.drop_index("ix_audit_entries_at", table_name="audit_entries")
    op.drop_table("audit_entries")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
