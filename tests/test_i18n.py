"""Russian and English catalogs: complete, compiled, and used by the pages."""

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from messenger import i18n

ROOT = Path(__file__).resolve().parent.parent
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


async def test_widget_api_errors_speak_the_widgets_language(env):
    from litestar.testing import AsyncTestClient

    from messenger.app import create_app
    from messenger.config import Settings

    async with AsyncTestClient(app=create_app(Settings.from_env(env))) as client:
        body = {"widget_token": "wt_unknown-token"}
        origin = {"Origin": "https://shop.example"}
        ru = await client.post(
            "/api/widget/bootstrap", json=body, headers={**origin, "Accept-Language": "ru-RU"}
        )
        en = await client.post(
            "/api/widget/bootstrap", json=body, headers={**origin, "Accept-Language": "en"}
        )
        assert ru.status_code == en.status_code == 404
        assert ru.json() == {"error": "not_found", "detail": "Неизвестный токен виджета."}
        assert en.json() == {"error": "not_found", "detail": "Unknown widget token."}
        invalid = await client.post(
            "/api/widget/bootstrap", json={"nope": 1}, headers={**origin, "Accept-Language": "ru"}
        )
        assert invalid.status_code == 422
        assert invalid.json()["error"] == "invalid"
        assert invalid.json()["detail"] == "Неверный запрос; подробности в errors."
        unauthorized = await client.get(
            "/api/widget/messages", headers={**origin, "Accept-Language": "en"}
        )
        assert unauthorized.json()["error"] == "unauthorized"
        assert unauthorized.json()["detail"].startswith("Missing, expired or invalid session token")
