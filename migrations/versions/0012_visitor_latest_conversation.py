"""The visitor's latest conversation from one index: every widget call's first step

Revision ID: 0012_visitor_latest_conversation
Revises: 0011_audit_log
Create Date: 2026-11-30 13:40:00.000000

Every widget call (send, poll, read, typing, a returning visitor's bootstrap) starts with
the visitor's latest conversation: ``WHERE inbox_id = ? AND visitor_id = ? ORDER BY
created_at DESC, id DESC LIMIT 1``. ``ix_conversations_visitor`` (``visitor_id`` alone)
found the rows, then PostgreSQL sorted them; without fresh statistics the planner even
combined it with ``ix_conversations_inbox_id`` (every conversation of the inbox, and every
dead version a send's ``UPDATE`` left) in a bitmap scan. The index below answers the
lookup in its own order (an index scan backwards, first row, no sort), and an index scan,
unlike a bitmap scan, marks the dead versions it meets so the next lookup skips them
(docs/performance.md, "The conversation lookup"). It replaces ``ix_conversations_visitor``:
``visitor_id`` leads, so whatever used that index uses this one.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_visitor_latest_conversation"
down_revision: str | None = "0011_audit_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_conversations_visitor_latest",
        "conversations",
        ["visitor_id", "inbox_id", "created_at", "id"],
    )
    op.drop_index("ix_conversations_visitor", table_name="conversations")


def downgrade() -> None:
    op.create_index("ix_conversations_visitor", "conversations", ["visitor_id"])
    op.drop_index("ix_conversations_visitor_latest", table_name="conversations")
