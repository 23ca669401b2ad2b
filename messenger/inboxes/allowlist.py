"""Domain allowlist matching for the Widget API's ``Origin`` / ``Referer`` check.

An entry is a host name, optionally with a port, optionally with a leading ``*.``:

* ``example.com`` admits exactly the host ``example.com`` — any port, ``http`` or ``https``
  (a site that owns the name owns its ports; browsers send the scheme we would check
  anyway, and pinning it breaks staging on plain http);
* ``example.com:8443`` admits only that port;
* ``*.example.com`` admits every subdomain (``a.example.com``, ``a.b.example.com``) but not
  ``example.com`` itself — list both to allow both; a wildcard on a public suffix
  (``*.github.io``, ``*.co.uk``: names anyone can register under) is refused, checked
  against the Public Suffix List that the ``publicsuffixlist`` package ships;
* host names are compared as browsers send them: lower case, without a trailing dot,
  internationalised names as IDNA 2008 A-labels (UTS #46 non-transitional, as WHATWG URL
  does: ``faß.de`` is ``xn--fa-hia.de``, not Python's IDNA 2003 ``fass.de``);
* an IP address (``127.0.0.1``, ``::1``) admits exactly that address written canonically.

Refused: ``evil-example.com``, ``example.com.evil.net``, user-info tricks
(``https://example.com@evil.net``), non-canonical IP spellings (``127.1``, ``0x7f.0.0.1``,
``2130706433``), schemes other than http(s), and anything that does not parse.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import idna
from publicsuffixlist import PublicSuffixList

from messenger.errors import Message
from messenger.i18n import N_

__all__ = [
    "DomainPatternError",
    "is_allowed",
    "normalize_domain_pattern",
    "parse_origin",
    "risky_domains",
]

#: Names reserved for tests and documentation (RFC 2606, RFC 6761): never a real customer site.
TEST_SUFFIXES = (".test", ".example", ".invalid", ".localhost", ".local")
TEST_NAMES = {"localhost", "example.com", "example.net", "example.org"}

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class DomainPatternError(ValueError):
    """Why an allowlist entry is refused, as a catalog message (shown to admins)."""

    def __init__(self, msgid: str, **params: object) -> None:
        self.reason = Message(msgid, params)
        super().__init__(str(self.reason))


def _is_port(text: str) -> bool:
    # ASCII digits only: str.isdigit() also admits "٨٠" (and int() reads it as 80).
    return text.isascii() and text.isdigit()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    """The Public Suffix List bundled with the package (ICANN and private sections)."""
    return PublicSuffixList()


def _normalize_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if not host:
        raise DomainPatternError(N_("an empty host name"))
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if _is_ip(host):
        return str(ipaddress.ip_address(host))
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            raise DomainPatternError(N_("%(value)r is not a valid host name"), value=host) from None
    labels = host.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise DomainPatternError(N_("%(value)r is not a valid host name"), value=host)
    if labels[-1].isdigit():
        # A numeric last label is an IP address in disguise (127.1, 2130706433): refused.
        raise DomainPatternError(
            N_("%(value)r is not a canonical IP address or host name"), value=host
        )
    return host


def normalize_domain_pattern(raw: str) -> str:
    """Validate and canonicalise one allowlist entry; raise ``ValueError`` with a reason."""
    text = raw.strip().lower()
    if "://" in text or "/" in text or "@" in text:
        raise DomainPatternError(
            N_("%(value)r: write a host name such as 'shop.example', not a URL"), value=raw
        )
    wildcard = text.startswith("*.")
    if wildcard:
        text = text[2:]
    port: int | None = None
    if text.startswith("["):  # [::1] or [::1]:8080
        host_part, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not _is_port(rest[1:]):
                raise DomainPatternError(N_("%(value)r: bad port"), value=raw)
            port = int(rest[1:])
        text = host_part
    elif text.count(":") == 1:
        text, _, port_text = text.partition(":")
        if not _is_port(port_text):
            raise DomainPatternError(N_("%(value)r: bad port"), value=raw)
        port = int(port_text)
    if port is not None and not 0 < port < 65536:
        raise DomainPatternError(N_("%(value)r: port out of range"), value=raw)
    host = _normalize_host(text)
    if wildcard and (_is_ip(host) or "." not in host):
        raise DomainPatternError(
            N_("%(value)r: a wildcard needs a domain with at least two labels"), value=raw
        )
    if wildcard and _public_suffixes().is_public(host):
        raise DomainPatternError(
            N_("%(value)r: a wildcard on a public suffix would admit anyone's site"), value=raw
        )
    if "*" in host:
        raise DomainPatternError(
            N_("%(value)r: '*' is only allowed as the leading label"), value=raw
        )
    ip = _is_ip(host)
    shown = f"[{host}]" if ip and ":" in host else host
    return ("*." if wildcard else "") + shown + (f":{port}" if port is not None else "")


def parse_origin(value: str | None) -> tuple[str, int] | None:
    """``(host, port)`` of an ``Origin`` or ``Referer`` value, or None when it is not usable."""
    if not value or len(value) > 4096:
        return None
    try:
        parts = urlsplit(value.strip())
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or parts.username is not None or parts.password:
            return None
        if parts.hostname is None:
            return None
        host = _normalize_host(parts.hostname)
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    return host, port


def _split_pattern(pattern: str) -> tuple[bool, str, int | None]:
    wildcard = pattern.startswith("*.")
    text = pattern[2:] if wildcard else pattern
    port: int | None = None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
        return wildcard, host, port
    if ":" in text:
        text, _, port_text = text.partition(":")
        port = int(port_text)
    return wildcard, text, port


def is_allowed(origin_or_referer: str | None, allowed_domains: Iterable[str]) -> bool:
    """True when the origin's host (and port, where the entry names one) is on the list."""
    parsed = parse_origin(origin_or_referer)
    if parsed is None:
        return False
    host, port = parsed
    host_is_ip = _is_ip(host)
    for pattern in allowed_domains:
        wildcard, pattern_host, pattern_port = _split_pattern(pattern)
        if pattern_port is not None and pattern_port != port:
            continue
        if wildcard:
            if not host_is_ip and host.endswith("." + pattern_host):
                return True
        elif host == pattern_host:
            return True
    return False


def risky_domains(allowed_domains: Iterable[str]) -> list[str]:
    """Entries fine for a demo but wrong in production: localhost, IP addresses, test names."""
    risky = []
    for pattern in allowed_domains:
        _, host, _ = _split_pattern(pattern)
        base = host.removeprefix("*.")
        if (
            _is_ip(base)
            or base in TEST_NAMES
            or base.endswith(TEST_SUFFIXES)
            or any(base.endswith("." + name) for name in TEST_NAMES)
        ):
            risky.append(pattern)
    return risky
