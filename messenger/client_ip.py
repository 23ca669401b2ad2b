"""The client's address: the socket peer, or ``X-Forwarded-For`` only from a trusted proxy.

uvicorn runs with proxy headers off (see ``messenger serve``); trust is decided here from
``MESSENGER_TRUSTED_PROXIES`` (empty by default: nobody can pick their own address).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from litestar.connection import ASGIConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Sequence[Network]
) -> bool:
    return any(address in network for network in proxies)


def client_ip(connection: ASGIConnection[Any, Any, Any, Any], proxies: Sequence[Network]) -> str:
    peer_text = connection.client.host if connection.client else ""
    peer = _parse(peer_text)
    if peer is None:
        return peer_text or "unknown"
    if not proxies or not _trusted(peer, proxies):
        return str(peer)
    # Walk the chain from the nearest hop outwards; the first untrusted address is the client.
    forwarded = connection.headers.get("x-forwarded-for", "")
    hops = [h for h in (part.strip() for part in forwarded.split(",")) if h]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            break
        if not _trusted(address, proxies):
            return str(address)
    return str(peer)


def ip_bucket(ip: str, v6_prefix: int = 64) -> str:
    """The key of a per-IP limit: an IPv4 address as is, an IPv6 address as its network of
    ``v6_prefix`` bits (one subscriber gets a whole /64: counting single addresses would let
    them rotate past every limit). Anything unparsable is kept as it is."""
    address = _parse(ip)
    if not isinstance(address, ipaddress.IPv6Address):
        return ip
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, v6_prefix), strict=False))
