"""inbox sessions revoked at (token rotation can end the old token's widget sessions)

Revision ID: 0003_inbox_sessions_revoked
Revises: 0002_session_epoch
Create Date: 2026-11-29 23:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0003_inbox_sessions_revoked"
down_revision: str | None = "0002_session_epoch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inboxes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sessions_revoked_at", DateTimeUTC(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("inboxes", schema=None) as batch_op:
        batch_op.drop_column("sessions_revoked_at")
