"""Russian and English for everything staff read: gettext catalogs, dates, relative times.

The active locale is a context variable, set once per request (operator preference →
``Accept-Language`` → ``MESSENGER_DEFAULT_LOCALE``); templates and Python code translate
through the same functions. Catalogs live in ``messenger/locale/<ll>/LC_MESSAGES/messages.po``
and are compiled to ``.mo`` by ``make`` (never committed).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_datetime as _format_datetime
from babel.dates import format_timedelta
from babel.support import LazyProxy, NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LOCALES: tuple[str, ...] = ("ru", "en")
LANGUAGE_NAMES = {"ru": "Русский", "en": "English"}

_locale: ContextVar[str] = ContextVar("messenger_locale", default="ru")
_timezone: ContextVar[str] = ContextVar("messenger_timezone", default="UTC")


@lru_cache(maxsize=8)
def translations(locale: str) -> NullTranslations:
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


def current_locale() -> str:
    return _locale.get()


def set_locale(locale: str, timezone: str = "UTC") -> None:
    _locale.set(locale if locale in LOCALES else LOCALES[0])
    _timezone.set(timezone)


@contextmanager
def use_locale(locale: str, timezone: str = "UTC") -> Iterator[None]:
    token_locale = _locale.set(locale if locale in LOCALES else LOCALES[0])
    token_tz = _timezone.set(timezone)
    try:
        yield
    finally:
        _locale.reset(token_locale)
        _timezone.reset(token_tz)


def gettext(message: str) -> str:
    return translations(_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_locale.get()).ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Mark a string for the catalogs without translating it now (translated when shown)."""
    return message


def lazy_gettext(message: str) -> LazyProxy:
    """For module-level strings: translated when shown, in the locale of that moment."""
    return LazyProxy(gettext, message, enable_cache=False)


def negotiate(preferred: str | None, accept_language: str | None, default: str) -> str:
    """The operator's saved choice, else the browser's first supported language, else default."""
    if preferred in LOCALES:
        return preferred  # type: ignore[return-value]
    weighted: list[tuple[float, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((quality - index * 1e-6, tag.strip().lower()[:2]))
    for _quality, language in sorted(weighted, reverse=True):
        if language in LOCALES:
            return language
    return default if default in LOCALES else LOCALES[0]


def _zone() -> ZoneInfo:
    try:
        return ZoneInfo(_timezone.get())
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_datetime(value: datetime | None, format: str = "short") -> str:
    if value is None:
        return ""
    return _format_datetime(
        value, format=format, tzinfo=_zone(), locale=Locale.parse(_locale.get())
    )


def format_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return _format_datetime(
        value, format="HH:mm", tzinfo=_zone(), locale=Locale.parse(_locale.get())
    )


def format_relative(value: datetime | None, now: datetime | None = None) -> str:
    """ "5 минут назад" / "5 minutes ago"."""
    if value is None:
        return ""
    delta = value - (now or datetime.now(UTC))
    return format_timedelta(
        delta, add_direction=True, threshold=1.0, locale=Locale.parse(_locale.get())
    )
