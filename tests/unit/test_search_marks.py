"""Search highlights and page links: visitors' text is escaped and only our marks become
markup; a malformed page link is the client's error."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from messenger.conversations.highlight import GT, LT, START, STOP, marked
from messenger.conversations.listing import Cursor
from messenger.conversations.search import SearchCursor
from messenger.errors import InvalidInputError


def test_marks_become_mark_elements_and_everything_else_is_escaped() -> None:
    text = f"{LT}script{GT}alert('x'){LT}/script{GT} {START}доставка{STOP} & <b>"
    assert str(marked(text)) == (
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; <mark>доставка</mark> &amp; &lt;b&gt;"
    )


def test_unbalanced_marks_never_leave_an_open_element() -> None:
    assert str(marked(f"{START}a{START}b")) == "<mark>ab</mark>"
    assert str(marked(f"a{STOP}b")) == "ab"


def test_cursors_round_trip_and_reject_garbage() -> None:
    cursor = Cursor(at=datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=UTC), id=uuid4())
    assert Cursor.decode(cursor.encode()) == cursor
    assert SearchCursor.decode(SearchCursor(5, 9, 50).encode()) == SearchCursor(5, 9, 50)
    for bad in ("", "~", "2026-11-30~x", "2026-11-30T01:00:00~" + str(uuid4())):
        with pytest.raises(InvalidInputError):
            Cursor.decode(bad)
    for bad in ("", "1.2", "a.b.c", "9.1.0", "-1.2.3", "1.2.3.4"):
        with pytest.raises(InvalidInputError):
            SearchCursor.decode(bad)
