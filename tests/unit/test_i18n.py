"""Russian and English catalogs: complete, compiled, and used by the pages."""

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from messenger import i18n
from tests.support.env import ROOT

METHODS = [("messenger/**.py", "python"), ("templates/**.html", "jinja2")]


OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}


KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None}


def extracted() -> set[str]:
    ids = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        ids.add(message if isinstance(message, str) else message[0])
    ids.discard("")
    return ids


def catalog(locale: str):
    with (ROOT / "messenger" / "locale" / locale / "LC_MESSAGES" / "messages.po").open(
        "rb"
    ) as handle:
        return read_po(handle, locale=locale)


def test_every_string_is_translated_to_russian():
    ru = catalog("ru")
    missing = sorted(
        msgid
        for msgid in extracted()
        if not (ru.get(msgid) and ru.get(msgid).string and not ru.get(msgid).fuzzy)
    )
    assert missing == [], f"untranslated in ru (run 'make messages' and translate): {missing}"


def test_english_catalog_knows_every_string():
    en = catalog("en")
    assert sorted(m for m in extracted() if en.get(m) is None) == []


def test_compiled_catalogs_exist():
    for locale in i18n.LOCALES:
        assert (ROOT / "messenger" / "locale" / locale / "LC_MESSAGES" / "messages.mo").is_file(), (
            "make install compiles the catalogs"
        )


@pytest.mark.parametrize(
    ("header", "preferred", "expected"),
    [
        ("en-US,en;q=0.9", None, "en"),
        ("de-DE,de;q=0.9,ru;q=0.8", None, "ru"),
        ("fr", None, "ru"),
        ("en", "ru", "ru"),
        ("ru;q=0.1,en;q=0.9", None, "en"),
        (None, None, "ru"),
    ],
)
def test_negotiate(header, preferred, expected):
    assert i18n.negotiate(preferred, header, "ru") == expected


def test_translation_and_dates_follow_the_locale():
    from datetime import UTC, datetime, timedelta

    with i18n.use_locale("ru", "Europe/Moscow"):
        assert i18n.gettext("Assign me") == "Назначить меня"
        assert "назад" in i18n.format_relative(datetime.now(UTC) - timedelta(minutes=5))
        assert i18n.format_time(datetime(2026, 1, 1, 9, 0, tzinfo=UTC)) == "12:00"
    with i18n.use_locale("en"):
        assert i18n.gettext("Assign me") == "Assign me"
        assert "ago" in i18n.format_relative(datetime.now(UTC) - timedelta(minutes=5))


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_remembered_relative_times_are_babels(locale):
    """format_relative remembers babel's text per (unit, count, direction): the same text
    babel gives for every delta, at unit boundaries and rounding edges too."""
    from datetime import UTC, datetime, timedelta

    from babel.dates import format_timedelta

    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    edges = [0, 0.4, 0.5, 1.5, 44, 45, 59.5, 89, 90, 3599, 3600, 5399, 5400, 86399, 86400]
    deltas = [*edges, *range(0, 400_000, 613), 6.6 * 86400, 45 * 86400, 400 * 86400, 1e9]
    with i18n.use_locale(locale):
        for seconds in [*deltas, *(-d for d in deltas)]:
            moment = now + timedelta(seconds=seconds)
            expected = format_timedelta(
                moment - now, add_direction=True, threshold=1.0, locale=locale
            )
            assert i18n.format_relative(moment, now) == expected, seconds


def test_remembered_dates_follow_the_locale_and_time_zone():
    from datetime import UTC, datetime

    moment = datetime(2026, 11, 30, 21, 30, tzinfo=UTC)
    with i18n.use_locale("ru", "Europe/Moscow"):
        moscow = (i18n.format_datetime(moment), i18n.format_time(moment))
    with i18n.use_locale("en", "UTC"):
        utc = (i18n.format_datetime(moment), i18n.format_time(moment))
    with i18n.use_locale("en", "Not/AZone"):
        unknown = i18n.format_time(moment)
    assert moscow == ("01.12.2026, 00:30", "00:30")
    assert utc[1] == "21:30"
    assert "21:30" in utc[0] or "9:30" in utc[0]
    assert unknown == "21:30"
