"""Signed widget sessions and single-use stream tickets (``messenger/widget/sessions.py``):
the pure parts, with explicit times and a fake clock for the tickets' store."""

from __future__ import annotations

import uuid

import pytest

from messenger.state import MemoryState
from messenger.widget.sessions import (
    SESSION_TTL_SECONDS,
    TICKET_TTL_MS,
    SessionSigner,
    StreamTickets,
    WidgetSession,
)
from tests.support.clock import FakeClock

SECRET = "unit-secret-" + "y" * 40
VISITOR = uuid.UUID("01890000-0000-7000-8000-000000000001")
NOW = 1_700_000_000


@pytest.fixture
def signer() -> SessionSigner:
    return SessionSigner(SECRET)


def test_a_token_verifies_to_its_inbox_visitor_and_issue_time(signer: SessionSigner) -> None:
    token = signer.issue(7, VISITOR, now=NOW)
    assert token.startswith("ws1.")
    assert signer.verify(token, now=NOW) == WidgetSession(7, VISITOR, NOW)


def test_a_token_lasts_its_lifetime_and_not_longer(signer: SessionSigner) -> None:
    token = signer.issue(7, VISITOR, now=NOW)
    assert signer.verify(token, now=NOW + SESSION_TTL_SECONDS) is not None
    assert signer.verify(token, now=NOW + SESSION_TTL_SECONDS + 61) is None
    assert signer.verify(token, now=NOW - 1) is None  # issued in the future


def test_another_secret_never_verifies(signer: SessionSigner) -> None:
    token = SessionSigner("other-" + "z" * 40).issue(7, VISITOR, now=NOW)
    assert signer.verify(token, now=NOW) is None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("ws1.", "ws2.", 1),
        lambda t: t + "x",
        lambda t: t.rsplit(".", 1)[0] + ".AAAA",
        lambda t: t.split(".")[0] + "." + t.split(".")[2] + "." + t.split(".")[1],
        lambda t: t.rsplit(".", 1)[0],
        lambda t: t + "." + t,
        lambda t: t + "A" * 600,
        lambda _t: "",
        lambda _t: "ws1.!!!.???",
    ],
)
def test_tampered_or_malformed_tokens_never_verify(signer: SessionSigner, mangle) -> None:
    token = signer.issue(7, VISITOR, now=NOW)
    assert signer.verify(token, now=NOW) is not None  # the good token is remembered ...
    assert signer.verify(mangle(token), now=NOW) is None  # ... a changed one checked anew
    assert signer.verify(mangle(token), now=NOW) is None


def test_a_payload_signed_for_another_inbox_cannot_be_spliced(signer: SessionSigner) -> None:
    mine = signer.issue(7, VISITOR, now=NOW).split(".")
    theirs = signer.issue(8, VISITOR, now=NOW).split(".")
    assert signer.verify(f"ws1.{theirs[1]}.{mine[2]}", now=NOW) is None
    assert signer.verify(None, now=NOW) is None


async def test_a_ticket_is_redeemed_once_for_its_session(signer: SessionSigner) -> None:
    tickets = StreamTickets(MemoryState(clock=FakeClock()), signer)
    session = signer.verify(signer.issue(7, VISITOR))
    assert session is not None
    ticket = await tickets.issue(session)
    assert await tickets.redeem(ticket) == session
    assert await tickets.redeem(ticket) is None


async def test_a_ticket_expires_after_a_minute(signer: SessionSigner) -> None:
    clock = FakeClock()
    tickets = StreamTickets(MemoryState(clock=clock), signer)
    session = signer.verify(signer.issue(7, VISITOR))
    assert session is not None
    early, late = await tickets.issue(session), await tickets.issue(session)
    clock.advance(TICKET_TTL_MS / 1000 - 0.001)
    assert await tickets.redeem(early) == session
    clock.advance(0.001)
    assert await tickets.redeem(late) is None


async def test_unknown_missing_and_overlong_tickets_are_refused(signer: SessionSigner) -> None:
    tickets = StreamTickets(MemoryState(clock=FakeClock()), signer)
    assert await tickets.redeem("no-such-ticket") is None
    assert await tickets.redeem(None) is None
    assert await tickets.redeem("") is None
    assert await tickets.redeem("x" * 129) is None


def test_a_contacts_token_says_it_is_identified_and_an_older_token_still_verifies(
    signer: SessionSigner,
) -> None:
    import base64
    import hashlib
    import hmac

    identified = signer.verify(signer.issue(7, VISITOR, now=NOW, identified=True), now=NOW)
    anonymous = signer.verify(signer.issue(7, VISITOR, now=NOW), now=NOW)
    assert identified == WidgetSession(7, VISITOR, NOW, identified=True)
    assert anonymous == WidgetSession(7, VISITOR, NOW, identified=False)
    # a token issued before the flag existed (three fields) is an anonymous session
    key = hmac.new(SECRET.encode(), b"messenger/widget-session/v1", hashlib.sha256).digest()
    payload = f'[7,"{VISITOR}",{NOW}]'.encode()

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    old = f"ws1.{b64(payload)}.{b64(hmac.new(key, payload, hashlib.sha256).digest())}"
    assert signer.verify(old, now=NOW) == WidgetSession(7, VISITOR, NOW, identified=False)
