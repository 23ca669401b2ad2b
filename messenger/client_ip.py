"""The client's address: the socket peer, or ``X-Forwarded-For`` only from a trusted proxy.

uvicorn runs with proxy headers off (see ``messenger serve``); trust is decided here from
``MESSENGER_TRUSTED_PROXIES`` (empty by default: nobody can pick their own address).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from typing import Any

from litestar.connection import ASGIConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=4096)  # the same few addresses call again and again
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


@functools.lru_cache(maxsize=4096)
def ip_bucket(ip: str, v6_prefix: int = 64) -> str:
    """The key of a per-address limit: an IPv4 address as is, an IPv6 address by its
    ``/v6_prefix`` network (one subscriber usually holds a whole /64 and could rotate through
    it); an IPv4-mapped IPv6 address counts as its IPv4 address. Anything else unchanged."""
    address = _parse(ip)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        prefix = min(max(v6_prefix, 0), 128)
        return str(ipaddress.IPv6Network(f"{address}/{prefix}", strict=False))
    return str(address) if address is not None else ip
