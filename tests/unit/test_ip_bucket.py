"""``ip_bucket``: the key of every per-IP limit (IPv4 as is, IPv6 by network)."""

from __future__ import annotations

import pytest

from messenger.client_ip import ip_bucket


@pytest.mark.parametrize(
    ("ip", "prefix", "bucket"),
    [
        ("203.0.113.7", 64, "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:2::ffff", 64, "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", 64, "2001:db8:1:3::/64"),
        ("2001:db8:1:2:3::1", 48, "2001:db8:1::/48"),
        ("2001:db8::1", 128, "2001:db8::1/128"),
        ("::ffff:203.0.113.7", 64, "203.0.113.7"),  # an IPv4 client on a dual stack
        ("unknown", 64, "unknown"),
    ],
)
def test_ip_bucket(ip: str, prefix: int, bucket: str) -> None:
    assert ip_bucket(ip, prefix) == bucket


def test_two_addresses_of_one_64_share_a_bucket_and_the_next_64_does_not() -> None:
    assert ip_bucket("2001:db8:a:b::1") == ip_bucket("2001:db8:a:b:ffff:ffff:ffff:ffff")
    assert ip_bucket("2001:db8:a:b::1") != ip_bucket("2001:db8:a:c::1")
