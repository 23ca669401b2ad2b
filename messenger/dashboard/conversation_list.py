"""The conversation list's request side: query parameters to filters, the list's context
(rows, next-page link, counts), the filters' choices. Used by the unified messenger."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.csat import CSAT_FILTERS
from messenger.conversations.labels import all_labels
from messenger.conversations.listing import (
    PAGE_SIZE,
    VIEWS,
    ConversationFilters,
    Cursor,
    changed_rows,
    list_conversations,
    unread_total,
    view_counts,
)
from messenger.conversations.search import SearchCursor, search_conversations
from messenger.db.models import (
    Branch,
    ConversationPriority,
    ConversationStatus,
    Inbox,
    Label,
    User,
)

#: What a list request answers besides the whole list: the rows after a cursor (``more``),
#: the rows above the top one with the counts (``top``, the live list), the counts alone.
PARTS = ("more", "top", "counts")
#: The list's satisfaction filter.
CSAT_CHOICES = ("rated", "unrated", *(k for k in CSAT_FILTERS if k != "rated"))


def list_filters(
    view: str | None,
    status: str | None,
    inbox: str | None,
    branch: str | None,
    priority: str | None,
    q: str | None,
    before: str | None = None,
    after: str | None = None,
    csat: str | None = None,
    label: str | None = None,
) -> ConversationFilters:
    def as_int(value: str | None) -> int | None:
        return int(value) if value and value.isdigit() else None

    return ConversationFilters(
        view=view if view in VIEWS else "all",
        status=None if status == "any" else (status or "open"),
        inbox_id=as_int(inbox),
        branch_id=as_int(branch),
        priority=priority or None,
        label_id=as_int(label),
        search=(q or "")[:200],
        csat=csat if csat in CSAT_CHOICES else None,
        before=Cursor.decode(before) if before else None,
        after=Cursor.decode(after) if after else None,
    )


async def filter_choices(
    db: AsyncSession, user: User, labels: list[Label] | None = None
) -> dict[str, Any]:
    """Inboxes and branches the filters offer (only those in the user's scope). Their ids
    and names only, as plain rows: no ORM objects (an inbox's settings are JSON decoded
    on load) for two drop-downs on every list page."""
    branches_query = select(Branch.id, Branch.name).order_by(Branch.name)
    if not user.is_admin:
        branches_query = branches_query.where(Branch.id.in_(user.branch_ids or {-1}))
    branches = list((await db.execute(branches_query)).all())
    inboxes_query = select(Inbox.id, Inbox.name, Inbox.branch_id).order_by(Inbox.name)
    inboxes = list((await db.execute(inboxes_query)).all())
    if not user.is_admin:
        inboxes = [i for i in inboxes if i.branch_id is None or i.branch_id in user.branch_ids]
    return {
        "branches": branches,
        "inboxes": inboxes,
        "statuses": [s.value for s in ConversationStatus],
        "priorities": [p.value for p in ConversationPriority],
        "views": VIEWS,
        "csat_choices": CSAT_CHOICES,
        "labels": labels if labels is not None else await all_labels(db),
    }


def _now() -> datetime:
    return datetime.now(UTC)


def parse_since(text: str | None) -> datetime | None:
    """The live list's last refresh time (from its own page); a malformed one means none."""
    try:
        moment = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


async def list_context(
    db: AsyncSession,
    user: User,
    filters: ConversationFilters,
    page: SearchCursor | None = None,
    part: str | None = None,
    changes: tuple[datetime, Cursor] | None = None,
) -> dict[str, Any]:
    """The list's rows (a keyset page, or a page of search results) with the link to
    the next page, the count of each view and the unread total. For the live list
    (``part="top"``), with ``changes`` = (since, lowest row shown): the rows above the top
    and the shown rows changed since then (redrawn, or gone when they left the filters)."""
    # Changes after this moment are the next live refresh's (read before the queries).
    context: dict[str, Any] = {"filters": filters, "rows": [], "next": None, "since": _now()}
    if part != "counts" and not (part == "top" and filters.search.strip()):
        if filters.search.strip():
            found = await search_conversations(db, user, filters, page)
            context["rows"] = found.rows
            context["next"] = {"page": found.next.encode()} if found.next else None
            context["older_history"] = found.older
        else:
            rows = await list_conversations(db, user, filters, PAGE_SIZE + 1)
            context["rows"] = rows[:PAGE_SIZE]
            if len(rows) > PAGE_SIZE and part != "top":
                last = Cursor.of(rows[PAGE_SIZE - 1].conversation)
                context["next"] = {"before": last.encode()}
            if part == "top" and changes is not None:
                context["changed"], context["gone"] = await changed_rows(
                    db, user, filters, *changes, shown={r.conversation.id for r in rows}
                )
    if part != "more":  # the next page leaves the counters as they are
        context["counts"] = await view_counts(db, user, filters)
        context["unread_total"] = await unread_total(db, user)
    return context
