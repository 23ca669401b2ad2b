"""Webhook signing, the SSRF address rules, back-off, the SMTP URL: pure functions."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from messenger.config import Settings, SettingsError
from messenger.mail.smtp import SmtpServer
from messenger.webhooks.delivery import backoff, encode_body, signed_headers
from messenger.webhooks.service import new_secret
from messenger.webhooks.ssrf import TargetRefused, is_refused, parse_url


def test_a_signed_request_verifies_with_the_standardwebhooks_package() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    body = encode_body({"type": "message.created", "timestamp": "t", "data": {"x": "é"}})
    headers = signed_headers(secret, "msg_1", datetime.now(UTC), body)
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    assert headers["webhook-signature"].startswith("v1,")
    tampered = body.replace("é", "e")
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook(secret).verify(tampered, headers)


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("172.16.5.4", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),  # noqa: S104 - an address to refuse, not one to bind
        ("224.0.0.1", True),
        ("::1", True),
        ("fe80::1", True),
        ("fd00:ec2::254", True),
        ("::ffff:10.0.0.1", True),
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
    ],
)
def test_refused_addresses(address: str, refused: bool) -> None:
    assert is_refused(ipaddress.ip_address(address)) is refused


@pytest.mark.parametrize(
    "url", ["ftp://x.example/", "http://", "https://u:p@x.example/", "http://x.example:99999/"]
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        parse_url(url)


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    settings = Settings.from_env(
        {
            "MESSENGER_WEBHOOK_BACKOFF_SECONDS": "10",
            "MESSENGER_WEBHOOK_BACKOFF_MAX_SECONDS": "3600",
        }
    )
    for attempts, full in [(1, 10), (2, 20), (3, 40), (20, 3600)]:
        for _ in range(20):
            assert full / 2 <= backoff(attempts, settings) <= full


def test_smtp_urls() -> None:
    plain = SmtpServer.from_url("smtp://mail.example.org")
    assert (plain.port, plain.use_tls, plain.start_tls, plain.username) == (25, False, False, None)
    tls = SmtpServer.from_url("smtps://me%40x.org:p%40ss@mail.example.org")
    assert (tls.port, tls.use_tls, tls.username, tls.password) == (465, True, "me@x.org", "p@ss")
    upgraded = SmtpServer.from_url("smtp://mail.example.org:587?starttls=1")
    assert (upgraded.port, upgraded.start_tls) == (587, True)
    with pytest.raises(SettingsError, match="MESSENGER_SMTP_URL"):
        Settings.from_env({"MESSENGER_SMTP_URL": "http://mail.example.org"})
