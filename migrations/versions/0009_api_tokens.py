"""API tokens of the integration REST API; the author name of messages written through it

Revision ID: 0009_api_tokens
Revises: 0008_outbox_webhooks
Create Date: 2026-11-30 04:00:00.000000

- ``api_tokens``: name, ``token_hash`` (hex SHA-256, unique: how a call finds its token),
  ``prefix`` (the first characters, to tell tokens apart), last used and revoked times;
- ``api_token_branches``: a token's branch scope (no row: every branch);
- ``messages.author_name``: the token's name on a message written through the API as the
  token itself (no staff account: ``author_id`` is NULL).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0009_api_tokens"
down_revision: str | None = "0008_outbox_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("last_used_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("revoked_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "api_token_branches",
        sa.Column("api_token_id", BIGINT, nullable=False),
        sa.Column("branch_id", BIGINT, nullable=False),
        sa.ForeignKeyConstraint(
            ["api_token_id"],
            ["api_tokens.id"],
            name=op.f("fk_api_token_branches_api_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"],
            ["branches.id"],
            name=op.f("fk_api_token_branches_branch_id_branches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_token_id", "branch_id", name=op.f("pk_api_token_branches")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("author_name")
    op.drop_table("api_token_branches")
    op.drop_table("api_tokens")
