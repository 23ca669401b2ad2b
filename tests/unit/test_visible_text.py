"""Visitor contacts lose their format characters (Unicode ``Cf``) at intake."""

from __future__ import annotations

import pytest

from messenger.visitors.service import visible_text


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Anna", "Anna"),
        ("\u202eanaJ\u202c", "anaJ"),  # right-to-left override: would read "Jana"
        ("Ad\u200bmin\u200d", "Admin"),  # zero-width space and joiner
        ("\u2066Support\u2069 team", "Support team"),  # isolates
        ("\ufeff Bob \u200e", "Bob"),  # BOM, left-to-right mark
        ("\u200b\u200f", None),  # nothing visible: no name at all
        ("Иван Петров", "Иван Петров"),
        ("عبد الله", "عبد الله"),  # right-to-left letters are letters, kept
        (None, None),
    ],
)
def test_format_characters_are_removed(typed: str | None, stored: str | None) -> None:
    assert visible_text(typed) == stored
