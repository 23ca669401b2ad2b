"""The SSRF guard: a webhook may only reach public addresses, checked after DNS resolution.

Checked when an endpoint is registered and again before every delivery; the delivery then
connects to the very address that was checked (:func:`pinned_request`), so a DNS answer
that changes between the check and the connection (rebinding) cannot slip through.
``MESSENGER_WEBHOOK_ALLOW_PRIVATE=1`` lifts the rule for tests and CRMs on the internal
network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from messenger.errors import InvalidInputError
from messenger.i18n import N_

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Cloud metadata services that are not covered by "not global" on every Python version.
_METADATA = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("fd00:ec2::/32"),
)


class TargetRefused(InvalidInputError):
    """The URL is malformed, does not resolve, or resolves to a refused address."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    host: str
    port: int
    address: IPAddress


def is_refused(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in _METADATA):
        return True
    return (
        not address.is_global
        or address.is_multicast
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def parse_url(url: str) -> tuple[str, int]:
    """The host and port of an http(s) URL without credentials."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(
            N_("A webhook URL must start with http:// or https:// and name a host.")
        )
    if parts.username or parts.password:
        raise TargetRefused(N_("A webhook URL must not contain a user name or password."))
    if len(url) > 2000:
        raise TargetRefused(N_("The webhook URL is too long."))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused(N_("The webhook URL has a bad port.")) from None
    return parts.hostname, port


async def resolve(url: str, *, allow_private: bool) -> Target:
    """The address to connect to; :class:`TargetRefused` if none may be used."""
    host, port = parse_url(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TargetRefused(
            N_("The webhook host %(host)s does not resolve."), params={"host": host}
        ) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise TargetRefused(
            N_("The webhook host %(host)s does not resolve."), params={"host": host}
        )
    if not allow_private and any(is_refused(a) for a in addresses):
        # Every address must be public: a name with one private answer could be steered there.
        raise TargetRefused(
            N_("The webhook host %(host)s resolves to a private or reserved address."),
            params={"host": host},
        )
    return Target(url=url, host=host, port=port, address=addresses[0])


def pinned_url(target: Target) -> str:
    """``target.url`` with the checked address in place of the host name."""
    parts = urlsplit(target.url)
    ip = str(target.address)
    netloc = f"[{ip}]" if ":" in ip else ip
    netloc = f"{netloc}:{target.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


def host_header(target: Target) -> str:
    parts = urlsplit(target.url)
    return parts.netloc.rsplit("@", 1)[-1]
