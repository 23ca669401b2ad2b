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
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.core import negotiate_locale
from babel.dates import TIMEDELTA_UNITS, format_timedelta
from babel.dates import format_datetime as _format_datetime
from babel.support import LazyProxy, NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: A supported language (config.values.Locale is the same set; config imports this module).
Language = Literal["ru", "en"]
LOCALES: tuple[Language, ...] = ("ru", "en")
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


def accepted_languages(*headers: str | None) -> list[str]:
    """Language tags named by ``Accept-Language``-like values, best first (by ``q``, then
    by position; a later header counts after an earlier one): the one parser of them."""
    weighted: list[tuple[float, int, str]] = []
    position = 0
    for header in headers:
        for part in (header or "").split(","):
            tag, _, params = part.strip().partition(";")
            tag = tag.strip().lower().replace("_", "-")
            if not tag:
                continue
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            if quality > 0:
                weighted.append((quality, position, tag))
            position += 1
    # Headers further down the list only break ties: earlier headers win at equal weight.
    return [tag for _q, _p, tag in sorted(weighted, key=lambda item: (-item[0], item[1]))]


@lru_cache(maxsize=1024)
def negotiate(preferred: str | None, accept_language: str | None, default: str) -> Language:
    """The operator's saved choice, else the browser's first supported language, else default.

    Remembered per distinct header (bounded): parsing ``Accept-Language`` and Babel's
    negotiation ran on every request, the widget's polls included."""
    if preferred in LOCALES:
        return preferred
    tags = accepted_languages(accept_language)
    chosen = negotiate_locale(tags, list(LOCALES), sep="-") if tags else None
    if chosen is None:
        chosen = next((t[:2] for t in tags if t[:2] in LOCALES), None)
    if chosen in LOCALES:
        return chosen
    return default if default in LOCALES else LOCALES[0]


def primary_language(*candidates: str | None) -> str | None:
    """The visitor's language for routing and the operator: the primary subtag of the
    first language named (``de-DE,en;q=0.8`` → ``de``), whatever the language."""
    for candidate in candidates:
        for tag in accepted_languages(candidate):
            primary = tag.split("-")[0]
            if 2 <= len(primary) <= 3 and primary.isalpha():
                return primary
    return None


#: Parsed once: ``Locale.parse`` builds a new object (and reloads its locale data through
#: babel's locked cache) on every call, and every date in a list row asks for one.
_BABEL_LOCALES: dict[str, Locale] = {code: Locale.parse(code) for code in LOCALES}


def _babel_locale() -> Locale:
    code = _locale.get()
    return _BABEL_LOCALES.get(code) or Locale.parse(code)


@lru_cache(maxsize=4096)
def _formatted(value: datetime, format: str, zone: str, locale: str) -> str:
    """babel's formatting, remembered: a pure function of its arguments, and the list
    shows the same moments (each row's last activity) on every refresh."""
    try:
        tzinfo = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tzinfo = ZoneInfo("UTC")
    babel_locale = _BABEL_LOCALES.get(locale) or Locale.parse(locale)
    return _format_datetime(value, format=format, tzinfo=tzinfo, locale=babel_locale)


def format_datetime(value: datetime | None, format: str = "short") -> str:
    if value is None:
        return ""
    return _formatted(value, format, _timezone.get(), _locale.get())


def format_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return _formatted(value, "HH:mm", _timezone.get(), _locale.get())


#: "5 минут назад" by (unit, rounded count, past or future, locale): babel's answer depends
#: on nothing else (its ``format_timedelta`` picks the largest unit of at least 1 and
#: rounds), and the list asks for one per row on every refresh.
_RELATIVE: dict[tuple[str, int, bool, str], str] = {}


def format_relative(value: datetime | None, now: datetime | None = None) -> str:
    """ "5 минут назад" / "5 minutes ago"."""
    if value is None:
        return ""
    delta = value - (now or datetime.now(UTC))
    seconds = delta.total_seconds()
    locale = _locale.get()
    key = ("second", 0, seconds >= 0, locale)
    for unit, per_unit in TIMEDELTA_UNITS:  # babel's own choice of unit (threshold 1)
        count = abs(seconds) / per_unit
        if count >= 1.0 or unit == "second":
            if unit == "second" and count > 0:
                count = max(1.0, count)
            key = (unit, round(count), seconds >= 0, locale)
            break
    text = _RELATIVE.get(key)
    if text is None:
        text = format_timedelta(delta, add_direction=True, threshold=1.0, locale=_babel_locale())
        if len(_RELATIVE) < 10_000:  # a few hundred keys in practice; bounded anyway
            _RELATIVE[key] = text
    return text
