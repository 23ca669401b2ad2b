"""search and list at scale: full-text vectors (Russian, English), trigram indexes, list indexes

Revision ID: 0004_search_and_list_indexes
Revises: 0003_inbox_sessions_revoked
Create Date: 2026-11-30 01:00:00.000000

PostgreSQL only, for the search (``messenger/conversations/search.py``):

- ``messages.search_ru`` / ``messages.search_en``: stored generated ``tsvector`` columns,
  ``to_tsvector('russian' | 'english', body)`` of messages and notes (events have none),
  each GIN-indexed. A conversation is searched with its inbox's language
  (``inboxes.settings->>'locale'``); an inbox without one with both. Generated columns (not
  expression indexes) so that ranking reads a stored vector instead of parsing every hit.
  The models do not declare them: the ORM never writes or reads them.
- ``pg_trgm`` and trigram GIN indexes on visitors' name, e-mail, phone and phone digits, so
  that ``ILIKE '%fragment%'`` uses an index.

- ``conversations.unread_count``: visitor messages after the operators' read marker, kept
  by triggers (a visitor message inserted or deleted; the marker moved), so that the unread
  counters add up one number per conversation instead of comparing every message with its
  conversation's marker. Not in the models either: it is read as a column in SQL only, so
  an ORM object never holds a stale copy (``listing.py``).

Both databases: the conversation list's keyset order ``(last_activity_at, id)`` per view.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_search_and_list_indexes"
down_revision: str | None = "0003_inbox_sessions_revoked"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (name, columns, partial to the unassigned) of the list's indexes, as the model declares
#: them (messenger/db/models/conversation.py); on PostgreSQL and SQLite.
ORDER = ["last_activity_at", "id"]
LIST_INDEXES: tuple[tuple[str, list[str], bool, bool], ...] = (
    # name, columns, partial to the unassigned, includes the assignee (PostgreSQL)
    ("ix_conversations_activity_id", ORDER, False, False),
    ("ix_conversations_status_activity_id", ["status", *ORDER], False, True),
    ("ix_conversations_branch_activity_id", ["branch_id", *ORDER], False, False),
    ("ix_conversations_branch_status_activity_id", ["branch_id", "status", *ORDER], False, True),
    ("ix_conversations_assignee_activity_id", ["assignee_id", "status", *ORDER], False, False),
    ("ix_conversations_unassigned_activity_id", ["status", *ORDER], True, False),
    (
        "ix_conversations_branch_unassigned_activity_id",
        ["branch_id", "status", *ORDER],
        True,
        False,
    ),
)
#: Replaced by the ones above (each is a prefix of one of them).
OLD_INDEXES = (
    ("ix_conversations_branch_status_activity", ["branch_id", "status", "last_activity_at"]),
    ("ix_conversations_assignee_status", ["assignee_id", "status"]),
)
UNASSIGNED = sa.text("assignee_id IS NULL")

#: The full-text columns and their GIN indexes (PostgreSQL).
LANGUAGES = (("ru", "russian"), ("en", "english"))
TRIGRAM_INDEXES = (
    ("ix_visitors_name_trgm", "name"),
    ("ix_visitors_email_trgm", "email"),
    ("ix_visitors_phone_trgm", "phone"),
    ("ix_visitors_phone_digits_trgm", "regexp_replace(phone, '[^0-9]', '', 'g')"),
)


UNREAD_SQL: tuple[str, ...] = (
    """
ALTER TABLE conversations ADD COLUMN unread_count integer NOT NULL DEFAULT 0
    """,
    """
UPDATE conversations c SET unread_count = (
    SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.sender = 'visitor'
      AND m.id > coalesce(c.operator_last_read_id, 0))
    """,
    """
CREATE FUNCTION messenger_unread_on_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE conversations SET unread_count = unread_count + 1
        WHERE id = NEW.conversation_id AND NEW.id > coalesce(operator_last_read_id, 0);
    ELSE
        UPDATE conversations SET unread_count = greatest(unread_count - 1, 0)
        WHERE id = OLD.conversation_id AND OLD.id > coalesce(operator_last_read_id, 0);
    END IF;
    RETURN NULL;
END $$
    """,
    """
CREATE TRIGGER messages_unread_insert AFTER INSERT ON messages FOR EACH ROW
    WHEN (NEW.sender = 'visitor') EXECUTE FUNCTION messenger_unread_on_message()
    """,
    """
CREATE TRIGGER messages_unread_delete AFTER DELETE ON messages FOR EACH ROW
    WHEN (OLD.sender = 'visitor') EXECUTE FUNCTION messenger_unread_on_message()
    """,
    """
CREATE FUNCTION messenger_unread_on_read() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.unread_count := (
        SELECT count(*) FROM messages m WHERE m.conversation_id = NEW.id
          AND m.sender = 'visitor' AND m.id > coalesce(NEW.operator_last_read_id, 0));
    RETURN NEW;
END $$
    """,
    """
CREATE TRIGGER conversations_unread_read BEFORE UPDATE OF operator_last_read_id ON conversations
    FOR EACH ROW WHEN (OLD.operator_last_read_id IS DISTINCT FROM NEW.operator_last_read_id)
    EXECUTE FUNCTION messenger_unread_on_read()
    """,
    # The unread total adds up the few conversations with something unread.
    """
CREATE INDEX ix_conversations_unread ON conversations (branch_id, status) INCLUDE (unread_count)
    WHERE unread_count > 0
    """,
)
UNREAD_DOWN_SQL: tuple[str, ...] = (
    """
DROP INDEX IF EXISTS ix_conversations_unread
    """,
    """
DROP TRIGGER IF EXISTS conversations_unread_read ON conversations
    """,
    """
DROP TRIGGER IF EXISTS messages_unread_delete ON messages
    """,
    """
DROP TRIGGER IF EXISTS messages_unread_insert ON messages
    """,
    """
DROP FUNCTION IF EXISTS messenger_unread_on_read()
    """,
    """
DROP FUNCTION IF EXISTS messenger_unread_on_message()
    """,
    """
ALTER TABLE conversations DROP COLUMN IF EXISTS unread_count
    """,
)


def upgrade() -> None:
    for name, columns, unassigned, counted in LIST_INDEXES:
        extra: dict[str, object] = {}
        if unassigned:
            extra.update(postgresql_where=UNASSIGNED, sqlite_where=UNASSIGNED)
        if counted:
            extra["postgresql_include"] = ["assignee_id"]
        op.create_index(name, "conversations", columns, unique=False, **extra)
    for name, _ in OLD_INDEXES:
        op.drop_index(name, table_name="conversations")
    if op.get_bind().dialect.name != "postgresql":
        return
    for suffix, config in LANGUAGES:
        op.execute(
            f"ALTER TABLE messages ADD COLUMN search_{suffix} tsvector GENERATED ALWAYS AS "
            f"(CASE WHEN kind <> 'event' THEN to_tsvector('{config}'::regconfig, body) END) "
            "STORED"
        )
        op.execute(
            f"CREATE INDEX ix_messages_search_{suffix} ON messages USING gin (search_{suffix})"
        )
    for statement in UNREAD_SQL:
        op.execute(statement)
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in TRIGRAM_INDEXES:
        op.execute(f"CREATE INDEX {name} ON visitors USING gin (({expression}) gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, _ in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        for suffix, _ in LANGUAGES:
            op.execute(f"DROP INDEX IF EXISTS ix_messages_search_{suffix}")
            op.execute(f"ALTER TABLE messages DROP COLUMN IF EXISTS search_{suffix}")
        for statement in UNREAD_DOWN_SQL:
            op.execute(statement)
        # pg_trgm stays: other objects of the database may use it.
    for name, columns in OLD_INDEXES:
        op.create_index(name, "conversations", columns, unique=False)
    for name, *_ in LIST_INDEXES:
        op.drop_index(name, table_name="conversations")
