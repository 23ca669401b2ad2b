"""The Widget API's domain allowlist: entries, and Origin / Referer values matched against them."""

from __future__ import annotations

import pytest

from messenger.inboxes.allowlist import is_allowed, normalize_domain_pattern, parse_origin

# --- entries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("example.com", "example.com"),
        ("Example.COM", "example.com"),
        ("  shop.example  ", "shop.example"),
        ("example.com.", "example.com"),
        ("*.example.com", "*.example.com"),
        ("*.Example.Com", "*.example.com"),
        ("example.com:8443", "example.com:8443"),
        ("*.example.com:8443", "*.example.com:8443"),
        ("localhost", "localhost"),
        ("localhost:3000", "localhost:3000"),
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1:8000", "127.0.0.1:8000"),
        ("::1", "[::1]"),
        ("[::1]", "[::1]"),
        ("[::1]:8080", "[::1]:8080"),
        ("[2001:DB8:0:0::1]", "[2001:db8::1]"),
        ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
        ("a-b.example.com", "a-b.example.com"),
        ("xn--e1afmkfd.xn--p1ai", "xn--e1afmkfd.xn--p1ai"),
    ],
)
def test_valid_entries_are_canonicalised(raw: str, canonical: str):
    assert normalize_domain_pattern(raw) == canonical
    assert normalize_domain_pattern(canonical) == canonical  # idempotent


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "*",
        "*.",
        "https://example.com",
        "http://example.com",
        "//example.com",
        "example.com/",
        "example.com/path",
        "user@example.com",
        "example.com@evil.net",
        "*.com",  # a wildcard needs at least two labels
        "*.localhost",
        "*example.com",
        "**.example.com",
        "a.*.example.com",
        "example.*",
        "*.127.0.0.1",
        "*.[::1]",
        "example.com:",
        "example.com:0",
        "example.com:65536",
        "example.com:-1",
        "example.com:http",
        "example.com:80:80",
        "example.com:٨٠",  # Arabic-Indic digits are not a port
        "[::1]x",
        "[::1]:",
        "127.1",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "2130706433",
        "127.0.0.01",
        "1.2.3.4.5",
        "-example.com",
        "example-.com",
        "exa_mple.com",
        "example..com",
        ".example.com",
        "exa mple.com",
        "a" * 64 + ".com",
    ],
)
def test_invalid_entries_are_refused(raw: str):
    with pytest.raises(ValueError, match=r"."):
        normalize_domain_pattern(raw)


# --- origins ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "parsed"),
    [
        ("https://example.com", ("example.com", 443)),
        ("http://example.com", ("example.com", 80)),
        ("https://Example.COM:8443", ("example.com", 8443)),
        ("https://example.com/page?q=1#x", ("example.com", 443)),
        ("http://[::1]:3000", ("::1", 3000)),
        ("https://xn--e1afmkfd.xn--p1ai", ("xn--e1afmkfd.xn--p1ai", 443)),
        ("null", None),
        ("", None),
        (None, None),
        ("example.com", None),
        ("ftp://example.com", None),
        ("javascript://example.com", None),
        ("file:///etc/passwd", None),
        ("data:text/html,hi", None),
        ("https://", None),
        ("https://user@example.com", None),
        ("https://user:pw@example.com", None),
        ("https://example.com:99999", None),
        ("https://127.1", None),
        ("https://" + "a" * 5000 + ".com", None),
    ],
)
def test_parse_origin(origin: str | None, parsed: tuple[str, int] | None):
    assert parse_origin(origin) == parsed


EXACT = ["example.com"]
WILDCARD = ["*.example.com"]
PORTED = ["example.com:8443"]
DEFAULT_PORT = ["example.com:443"]
LOOPBACK = ["127.0.0.1"]
IPV6 = ["[::1]"]


@pytest.mark.parametrize(
    ("origin", "allowed", "expected"),
    [
        # exact host, any port, http or https
        ("https://example.com", EXACT, True),
        ("http://example.com", EXACT, True),
        ("https://example.com:8443", EXACT, True),
        ("https://EXAMPLE.com", EXACT, True),
        ("https://example.com.", EXACT, True),
        ("https://example.com/some/page?x=1", EXACT, True),  # a Referer
        ("https://www.example.com", EXACT, False),
        ("https://evil-example.com", EXACT, False),
        ("https://example.com.evil.net", EXACT, False),
        ("https://example.co", EXACT, False),
        ("https://example.comm", EXACT, False),
        ("https://notexample.com", EXACT, False),
        # user-info tricks
        ("https://example.com@evil.net", EXACT, False),
        ("https://evil.net@example.com", EXACT, False),
        ("https://example.com:443@evil.net", EXACT, False),
        ("https://user:pass@example.com", EXACT, False),
        ("https://example.com\\@evil.net", EXACT, False),
        ("https://evil.net#@example.com", EXACT, False),
        ("https://evil.net/?@example.com", EXACT, False),
        ("https://evil.net/https://example.com", EXACT, False),
        # schemes and junk
        ("null", EXACT, False),
        ("ftp://example.com", EXACT, False),
        ("ws://example.com", EXACT, False),
        ("javascript://example.com/%0aalert(1)", EXACT, False),
        ("file://example.com/", EXACT, False),
        ("chrome-extension://example.com", EXACT, False),
        ("example.com", EXACT, False),
        ("//example.com", EXACT, False),
        ("", EXACT, False),
        (None, EXACT, False),
        ("https://exam%70le.com", EXACT, False),
        # wildcard: subdomains only
        ("https://a.example.com", WILDCARD, True),
        ("https://a.b.example.com", WILDCARD, True),
        ("http://shop.example.com:8080", WILDCARD, True),
        ("https://example.com", WILDCARD, False),
        ("https://aexample.com", WILDCARD, False),
        ("https://evil-example.com", WILDCARD, False),
        ("https://a.example.com.evil.net", WILDCARD, False),
        ("https://example.com.a.example.net", WILDCARD, False),
        ("https://a.example.com@evil.net", WILDCARD, False),
        # ports
        ("https://example.com:8443", PORTED, True),
        ("http://example.com:8443", PORTED, True),
        ("https://example.com", PORTED, False),
        ("https://example.com:8444", PORTED, False),
        ("https://example.com", DEFAULT_PORT, True),
        ("https://example.com:443", DEFAULT_PORT, True),
        ("http://example.com", DEFAULT_PORT, False),
        # IP addresses: exactly, written canonically
        ("http://127.0.0.1", LOOPBACK, True),
        ("http://127.0.0.1:8000", LOOPBACK, True),
        ("http://127.1", LOOPBACK, False),
        ("http://127.0.1", LOOPBACK, False),
        ("http://0x7f.0.0.1", LOOPBACK, False),
        ("http://0x7f000001", LOOPBACK, False),
        ("http://2130706433", LOOPBACK, False),
        ("http://0177.0.0.1", LOOPBACK, False),
        ("http://127.0.0.01", LOOPBACK, False),
        ("http://127.000.000.001", LOOPBACK, False),
        ("http://[::ffff:127.0.0.1]", LOOPBACK, False),
        ("http://localhost", LOOPBACK, False),
        ("http://127.0.0.2", LOOPBACK, False),
        ("http://[::1]:3000", IPV6, True),
        ("http://[::2]", IPV6, False),
        ("http://127.0.0.1", IPV6, False),
        # an IP origin never matches a wildcard
        ("http://1.2.3.4", ["*.2.3.4"], False),
        # IDN: the entry is stored in punycode, browsers send punycode
        ("https://xn--e1afmkfd.xn--p1ai", [normalize_domain_pattern("пример.рф")], True),
        # nothing listed: nothing allowed
        ("https://example.com", [], False),
        # several entries: any may match
        ("https://b.example", ["a.example", "b.example"], True),
    ],
)
def test_is_allowed(origin: str | None, allowed: list[str], expected: bool):
    assert is_allowed(origin, allowed) is expected


def test_listing_both_the_apex_and_the_wildcard_admits_both():
    allowed = ["example.com", "*.example.com"]
    assert is_allowed("https://example.com", allowed)
    assert is_allowed("https://www.example.com", allowed)
    assert not is_allowed("https://example.org", allowed)


def test_null_origin_is_refused_even_if_listed():
    allowed = [normalize_domain_pattern("null")]  # a legal single-label host name...
    assert not is_allowed("null", allowed)  # ...but the opaque origin "null" never matches
