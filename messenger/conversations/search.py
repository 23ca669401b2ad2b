"""Search in the unified messenger: which conversations match a text, ranked and highlighted.

PostgreSQL (migration 0004): message and note bodies by full-text search with stemming
(``доставки`` finds ``доставка``, ``deliveries`` finds ``delivery``) in the language of the
conversation's inbox (``settings.locale``: ``russian`` or ``english``; an inbox without one
is searched in both), and the visitor's name, e-mail and phone (digits too) by substring
over trigram indexes. A visitor match ranks first, then ``ts_rank`` of the best message.

A frequent word matches a large part of all history, and ranking every match costs time
proportional to the matches. So the newest ``RECENT_WINDOW`` messages are ranked first
(visitor matches with them), then older history, ranked on its own: page 1 is fast
whatever the word, and the pages go on into the past. The window is fixed by the first
page (``SearchCursor``), so later pages neither repeat nor skip a conversation while new
messages arrive.

Scope: the same ``filtered`` query as the list (``rules.scope_query``); notes are included
(this search is for staff only; no visitor-facing API searches).

SQLite (embedded mode): a case-insensitive substring match, newest first; the match is
highlighted in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import REGCONFIG, TSVECTOR
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from messenger.conversations.actors import Actor
from messenger.conversations.highlight import GT, LT, START, STOP, marked, simple_headline
from messenger.conversations.listing import (
    PAGE_SIZE,
    ConversationFilters,
    ConversationRow,
    filtered,
    ilike_match,
    load_rows,
    with_row_options,
)
from messenger.db.models import Conversation, Inbox, Message, MessageKind, Visitor
from messenger.errors import InvalidInputError
from messenger.i18n import N_

#: The newest messages ranked first (see the module's docstring).
RECENT_WINDOW = 20_000
#: How long the first page may spend on older history before it leaves it to a "more" link.
FIRST_PAGE_OLDER_MS = 100
QUERY_CANCELED = "57014"
#: A text matching one recent message in this many is common (see ``_common``).
COMMON_SHARE = 200
HEADLINE_OPTIONS = f"StartSel={START}, StopSel={STOP}, MaxWords=24, MinWords=8, MaxFragments=2"


@dataclass(frozen=True, slots=True)
class SearchCursor:
    """Where a search page starts: the recent window ``(floor, ceiling]`` of message ids
    and how many ranked conversations came before."""

    floor: int
    ceiling: int
    offset: int

    def encode(self) -> str:
        return f"{self.floor}.{self.ceiling}.{self.offset}"

    @classmethod
    def decode(cls, text: str) -> SearchCursor:
        parts = text.split(".")
        if len(parts) != 3 or not all(p.isdigit() and len(p) < 19 for p in parts):
            raise InvalidInputError(N_("This page link is not valid."))
        floor, ceiling, offset = (int(p) for p in parts)
        if floor > ceiling:
            raise InvalidInputError(N_("This page link is not valid."))
        return cls(floor, ceiling, offset)


@dataclass(slots=True)
class SearchPage:
    rows: list[ConversationRow]
    next: SearchCursor | None
    #: The first page stopped at the recent window: older history is the next page's.
    older: bool = False


async def search_conversations(
    session: AsyncSession,
    user: Actor,
    filters: ConversationFilters,
    cursor: SearchCursor | None = None,
    limit: int = PAGE_SIZE,
) -> SearchPage:
    """A page of the conversations matching ``filters.search`` that ``user`` may see."""
    text = filters.search.strip()
    if not text:
        return SearchPage(rows=[], next=None)
    if session.get_bind().dialect.name != "postgresql":
        return await _search_simple(session, user, filters, text, cursor, limit)
    first_page = cursor is None
    if cursor is None:
        newest = int(await session.scalar(select(func.max(Message.id))) or 0)
        cursor = SearchCursor(max(newest - RECENT_WINDOW, 0), newest, 0)
    terms = _Terms(text)
    scope = filtered(user, filters).subquery("scope")
    recent = _ranked(terms, scope, _window(cursor.floor, cursor.ceiling), visitors=True)
    older = _ranked(terms, scope, Message.id <= cursor.floor, visitors=False).where(
        ~_hit_in(terms, scope.c.id, _window(cursor.floor, cursor.ceiling)),
        ~_visitor_matched(terms, scope.c.visitor_id),
    )
    found = await _page(session, recent, cursor.offset, limit + 1)
    older_pending = False
    if len(found) <= limit:
        if found or cursor.offset == 0:
            recent_total = cursor.offset + len(found)
        else:
            recent_total = await _count(session, recent)
        start = max(cursor.offset - recent_total, 0)
        wanted = limit + 1 - len(found)
        if first_page and await _common(session, terms, cursor):
            earlier = None  # ranking older history would read a good part of all of it
        elif first_page:  # within a time budget; else the user asks for older history
            earlier = await _page_within(session, older, start, wanted, FIRST_PAGE_OLDER_MS)
        else:
            earlier = await _page(session, older, start, wanted)
        older_pending = earlier is None
        found += earlier or []
    more = len(found) > limit or older_pending
    found = found[:limit]
    rows = await _rows(session, [cid for cid, _ in found])
    headlines = await _headlines(session, terms, [mid for _, mid in found if mid is not None])
    best = dict(found)  # a conversation deleted meanwhile is just not in rows
    for row in rows:
        mid = best.get(row.conversation.id)
        if mid is not None and mid in headlines:
            row.extra["headline"] = headlines[mid]
    following = SearchCursor(cursor.floor, cursor.ceiling, cursor.offset + len(found))
    return SearchPage(rows=rows, next=following if more else None, older=older_pending)


class _Terms:
    """The searched text as SQL: one tsquery per language, substring patterns."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.ru = func.websearch_to_tsquery(_RUSSIAN, text)
        self.en = func.websearch_to_tsquery(_ENGLISH, text)
        self.pattern = (
            "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        digits = re.sub(r"\D", "", text)
        self.digits = digits if len(digits) >= 3 and re.fullmatch(r"[\d\s()+.-]+", text) else ""


_RUSSIAN = literal_column("'russian'::regconfig", REGCONFIG)
_ENGLISH = literal_column("'english'::regconfig", REGCONFIG)
_SEARCH_RU = literal_column("messages.search_ru", TSVECTOR)
_SEARCH_EN = literal_column("messages.search_en", TSVECTOR)
_LOCALE = literal_column("inboxes.settings ->> 'locale'", String)


def _any_language(terms: _Terms) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return _SEARCH_RU.op("@@")(terms.ru), _SEARCH_EN.op("@@")(terms.en)


def _matches(terms: _Terms) -> ColumnElement[bool]:
    ru, en = _any_language(terms)
    # The OR lets the planner use both GIN indexes; the CASE keeps the inbox's language.
    by_language = case((_LOCALE == "ru", ru), (_LOCALE == "en", en), else_=or_(ru, en))
    return and_(or_(ru, en), by_language.is_(True))


def _rank(terms: _Terms) -> ColumnElement[Any]:
    ru = func.ts_rank(_SEARCH_RU, terms.ru)
    en = func.ts_rank(_SEARCH_EN, terms.en)
    return case((_LOCALE == "ru", ru), (_LOCALE == "en", en), else_=func.greatest(ru, en))


def _window(floor: int, ceiling: int) -> ColumnElement[bool]:
    return and_(Message.id > floor, Message.id <= ceiling)


#: The phone's digits, as the trigram index of migration 0004 spells them (a constant
#: expression: a bound parameter inside it would keep the planner from the index).
_PHONE_DIGITS = literal_column("regexp_replace(visitors.phone, '[^0-9]', '', 'g')", String)


def _visitor_fields(terms: _Terms) -> list[ColumnElement[bool]]:
    """Which of the visitor's fields may contain the text, by its shape: an e-mail, a phone
    (its digits too), else a name or an e-mail."""
    if "@" in terms.text:
        columns = [Visitor.email]
    elif terms.digits:
        columns = [Visitor.phone]
    else:
        columns = [Visitor.name, Visitor.email]
    fields: list[ColumnElement[bool]] = [
        column.ilike(terms.pattern, escape="\\") for column in columns
    ]
    if terms.digits:
        fields.append(_PHONE_DIGITS.like(f"%{terms.digits}%"))
    return fields


def _visitor_matches(terms: _Terms, visitor_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """The visitor matches: an IN over the matching visitors, one SELECT per field so that
    each uses its trigram index (an OR of ILIKEs is planned as one sequential scan)."""
    queries = [select(Visitor.id).where(field) for field in _visitor_fields(terms)]
    return visitor_id.in_(union_all(*queries))


def _visitor_matched(terms: _Terms, visitor_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """The same match for one row's visitor (a primary-key probe). ``OFFSET 0`` keeps the
    planner from turning it into a join that scans every visitor before the few rows that
    older history matched are known."""
    probe = select(Visitor.id).where(Visitor.id == visitor_id, or_(*_visitor_fields(terms)))
    return probe.offset(0).exists()


def _hit_in(
    terms: _Terms, conversation_id: ColumnElement[Any], where: ColumnElement[bool]
) -> ColumnElement[bool]:
    return (
        exists()
        .where(Message.conversation_id == conversation_id, where, _matches(terms))
        .where(Inbox.id == Conversation.inbox_id, Conversation.id == conversation_id)
    )


def _ranked(
    terms: _Terms, scope: Any, where: ColumnElement[bool], *, visitors: bool
) -> Select[Any]:
    """Conversations of ``scope`` by their best match: (id, best message id, rank, activity)."""
    hits = (
        select(
            Message.conversation_id.label("cid"),
            Message.id.label("mid"),
            _rank(terms).label("rank"),
        )
        .join(scope, scope.c.id == Message.conversation_id)
        .join(Inbox, Inbox.id == scope.c.inbox_id)
        .where(where, Message.kind != MessageKind.EVENT, _matches(terms))
    )
    if visitors:
        people = select(scope.c.id, literal(None).label("mid"), literal(1.0).label("rank")).where(
            _visitor_matches(terms, scope.c.visitor_id)
        )
        hits = hits.union_all(people)  # type: ignore[assignment]
    matched = hits.subquery("hits")
    best = (
        select(matched.c.cid, matched.c.mid, matched.c.rank)
        .distinct(matched.c.cid)
        .order_by(matched.c.cid, matched.c.rank.desc(), matched.c.mid.desc().nulls_last())
        .subquery("best")
    )
    return (
        select(best.c.cid, best.c.mid)
        .join(scope, scope.c.id == best.c.cid)
        .order_by(best.c.rank.desc(), scope.c.last_activity_at.desc(), scope.c.id.desc())
    )


async def _page(session: AsyncSession, ranked: Select[Any], offset: int, limit: int) -> list[Any]:
    if limit <= 0:
        return []
    result = await session.execute(ranked.offset(offset).limit(limit))
    return [(row[0], row[1]) for row in result.all()]


async def _common(session: AsyncSession, terms: _Terms, cursor: SearchCursor) -> bool:
    """Whether the text is common in the recent window, whoever's scope: then older history
    holds many matches to rank too (though maybe none in this scope), and page 1 leaves it
    to the "older history" link instead of spending its time budget on it."""
    enough = RECENT_WINDOW // COMMON_SHARE
    sample = (
        select(Message.id)
        .where(_window(cursor.floor, cursor.ceiling), or_(*_any_language(terms)))
        .limit(enough)
        .subquery()
    )
    return int(await session.scalar(select(func.count()).select_from(sample)) or 0) >= enough


async def _page_within(
    session: AsyncSession, ranked: Select[Any], offset: int, limit: int, budget_ms: int
) -> list[Any] | None:
    """``_page`` if PostgreSQL answers within ``budget_ms``; None if it had to give up (in
    a savepoint, so the request's transaction goes on)."""
    try:
        async with session.begin_nested():
            await session.execute(sql_text(f"SET LOCAL statement_timeout = {int(budget_ms)}"))
            found = await _page(session, ranked, offset, limit)
            await session.execute(sql_text("SET LOCAL statement_timeout TO DEFAULT"))
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != QUERY_CANCELED:
            raise
        return None
    return found


async def _count(session: AsyncSession, ranked: Select[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(ranked.subquery())) or 0)


async def _rows(session: AsyncSession, ids: list[Any]) -> list[ConversationRow]:
    if not ids:
        return []
    query = with_row_options(select(Conversation).where(Conversation.id.in_(ids)))
    by_id = {c.id: c for c in (await session.execute(query)).scalars()}
    return await load_rows(session, [by_id[cid] for cid in ids if cid in by_id])


async def _headlines(session: AsyncSession, terms: _Terms, ids: list[int]) -> dict[int, Markup]:
    """The matched words of these messages, marked (ts_headline in the inbox's language)."""
    if not ids:
        return {}
    body = func.translate(func.translate(Message.body, START + STOP + LT + GT, ""), "<>", LT + GT)
    config = case((_LOCALE == "en", _ENGLISH), else_=_RUSSIAN)
    query = case((_LOCALE == "en", terms.en), else_=terms.ru)
    headline = func.ts_headline(config, body, query, HEADLINE_OPTIONS, type_=String)
    rows = await session.execute(
        select(Message.id, headline)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(Message.id.in_(ids))
    )
    return {mid: marked(text) for mid, text in rows.all()}


async def _search_simple(
    session: AsyncSession,
    user: Actor,
    filters: ConversationFilters,
    text: str,
    cursor: SearchCursor | None,
    limit: int,
) -> SearchPage:
    """Embedded mode: a substring match, newest first, offset pages."""
    offset = cursor.offset if cursor else 0
    match = ilike_match(text)
    query = (
        filtered(user, filters)
        .where(false() if match is None else match)
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .offset(offset)
        .limit(limit + 1)
    )
    conversations = list((await session.execute(with_row_options(query))).scalars())
    rows = await load_rows(session, conversations[:limit])
    for row in rows:
        if row.preview is not None:
            row.extra["headline"] = simple_headline(row.preview.body, text)
    more = len(conversations) > limit
    return SearchPage(rows=rows, next=SearchCursor(0, 0, offset + limit) if more else None)
