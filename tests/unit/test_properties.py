"""Property tests (Hypothesis) of the parsers and checks that take what a client or an admin
writes: the origin allowlist, rates, widget session tokens, ``Last-Event-ID``, file names.

Each property says what must hold for *every* input, and Hypothesis looks for one where it
does not. Bounded (``max_examples``) so the unit suite stays quick.
"""

from __future__ import annotations

import string
import unicodedata
import uuid

import idna
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from publicsuffixlist import PublicSuffixList

from messenger.attachments.files import safe_filename
from messenger.config.values import Rate, SettingsError, parse_rate
from messenger.inboxes.allowlist import (
    DomainPatternError,
    is_allowed,
    normalize_domain_pattern,
    parse_origin,
)
from messenger.widget.sessions import SESSION_TTL_SECONDS, SessionSigner
from messenger.widget.stream import MAX_EVENT_ID, parse_last_event_id

PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies -------------------------------------------------------------------------------

_LDH = string.ascii_lowercase + string.digits
label = st.builds(
    lambda head, middle, tail: head + middle + tail,
    st.sampled_from(string.ascii_lowercase),
    st.text(_LDH + "-", max_size=10),
    st.sampled_from(_LDH),
).map(lambda text: text[:63])
#: A registrable-looking host under a suffix that is not public (so wildcards are allowed).
host = st.builds(
    lambda labels, suffix: ".".join([*labels, suffix]),
    st.lists(label, min_size=1, max_size=3),
    st.sampled_from(["example.com", "shop.co.uk", "site.github.io", "example.org"]),
)
port = st.integers(min_value=1, max_value=65535)
scheme = st.sampled_from(["http", "https"])
PSL = PublicSuffixList()
PUBLIC_SUFFIXES = ["com", "co.uk", "github.io", "s3.amazonaws.com", "herokuapp.com", "com.au"]
UNICODE_NAMES = ["faß.de", "bücher.example", "пример.рф", "例え.jp", "ÖBB.at", "straße.de"]


def _random_case(text: str, data: st.DataObject) -> str:
    flips = data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    # Only where upper case is one character: "ß".upper() is "SS", another name.
    return "".join(
        ch.upper() if flip and len(ch.upper()) == 1 else ch
        for ch, flip in zip(text, flips, strict=True)
    )


# --- the allowlist ----------------------------------------------------------------------------


@PROPERTIES
@given(host=host, port=port, scheme=scheme, data=st.data())
def test_an_entry_admits_its_host_in_any_case_with_or_without_a_trailing_dot(
    host: str, port: int, scheme: str, data: st.DataObject
) -> None:
    entry = _random_case(host, data) + data.draw(st.sampled_from(["", "."]))
    allowed = [normalize_domain_pattern(entry)]
    origin_host = _random_case(host, data) + data.draw(st.sampled_from(["", "."]))
    assert is_allowed(f"{scheme}://{origin_host}:{port}", allowed)
    assert is_allowed(f"{scheme}://{origin_host}", allowed)


@PROPERTIES
@given(host=host, port=port, other=port, sub=label)
def test_a_pinned_port_admits_that_port_only(host: str, port: int, other: int, sub: str) -> None:
    allowed = [normalize_domain_pattern(f"{host}:{port}")]
    assert is_allowed(f"https://{host}:{port}", allowed)
    assume(other != port)
    assert not is_allowed(f"https://{host}:{other}", allowed)
    assert not is_allowed(f"https://{sub}.{host}:{port}", allowed)


@PROPERTIES
@given(host=host, sub=label, evil=label)
def test_a_wildcard_admits_subdomains_only(host: str, sub: str, evil: str) -> None:
    allowed = [normalize_domain_pattern(f"*.{host}")]
    assert is_allowed(f"https://{sub}.{host}", allowed)
    assert is_allowed(f"https://{evil}.{sub}.{host}", allowed)
    assert not is_allowed(f"https://{host}", allowed)
    assert not is_allowed(f"https://{sub}{host}", allowed)  # no dot: another name
    assert not is_allowed(f"https://{host}.{evil}.net", allowed)
    assert not is_allowed(f"https://{host}@{evil}.net", allowed)


@PROPERTIES
@given(suffix=st.sampled_from(PUBLIC_SUFFIXES), sub=label, data=st.data())
def test_wildcards_on_public_suffixes_are_refused_and_one_label_below_is_fine(
    suffix: str, sub: str, data: st.DataObject
) -> None:
    with pytest.raises(DomainPatternError):
        normalize_domain_pattern("*." + _random_case(suffix, data))
    assume(not PSL.is_public(f"{sub}.{suffix}"))  # e.g. sa.com is a public suffix too
    assert normalize_domain_pattern(f"*.{sub}.{suffix}") == f"*.{sub}.{suffix}"


@PROPERTIES
@given(name=st.sampled_from(UNICODE_NAMES), data=st.data())
@example(name="faß.de", data=None)  # IDNA 2008: xn--fa-hia.de, never IDNA 2003's fass.de
def test_international_names_match_as_browsers_send_them(
    name: str, data: st.DataObject | None
) -> None:
    written = _random_case(name, data) if data is not None else name
    a_label = idna.encode(name, uts46=True, transitional=False).decode()
    assert normalize_domain_pattern(written) == a_label
    assert is_allowed(f"https://{a_label}", [normalize_domain_pattern(written)])
    if name == "faß.de":
        assert not is_allowed("https://fass.de", [normalize_domain_pattern(written)])


@PROPERTIES
@given(raw=st.text(max_size=80))
@example(raw="*.GitHub.IO.")
@example(raw="xn--zz.example")
@example(raw="[::ffff:127.0.0.1]:80")
def test_normalising_any_text_is_a_reason_or_a_fixed_point(raw: str) -> None:
    try:
        entry = normalize_domain_pattern(raw)
    except DomainPatternError:
        return
    assert normalize_domain_pattern(entry) == entry
    assert entry == entry.lower().strip()


@PROPERTIES
@given(origin=st.text(max_size=120), entries=st.lists(host, max_size=3))
@example(origin="https://example.com@evil.net", entries=["example.com"])
@example(origin="https://127.1", entries=["127.0.0.1"])
def test_any_origin_is_refused_or_matched_never_an_error(origin: str, entries: list[str]) -> None:
    allowed = [normalize_domain_pattern(entry) for entry in entries]
    result = is_allowed(origin, allowed)
    assert isinstance(result, bool)
    if result:
        parsed = parse_origin(origin)
        assert parsed is not None
        assert any(parsed[0] == entry or parsed[0].endswith("." + entry) for entry in allowed)


# --- rates ------------------------------------------------------------------------------------

UNITS = {"s": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hours": 3600}


@PROPERTIES
@given(
    limit=st.integers(min_value=1, max_value=10**9),
    count=st.integers(min_value=1, max_value=10_000),
    unit=st.sampled_from(sorted(UNITS)),
    spaced=st.booleans(),
)
def test_rates_parse_to_what_they_say_and_print_back(
    limit: int, count: int, unit: str, spaced: bool
) -> None:
    gap = " " if spaced else ""
    rate = parse_rate(f"{limit}{gap}/{gap}{count}{unit.upper() if spaced else unit}")
    assert rate == Rate(limit=limit, window_seconds=count * UNITS[unit])
    assert parse_rate(str(rate)) == rate


@PROPERTIES
@given(text=st.text(max_size=40))
@example(text="0/minute")
@example(text="5/0s")
@example(text="٣/minute")
@example(text="-1/s")
def test_any_rate_text_is_a_positive_rate_or_a_settings_error(text: str) -> None:
    try:
        rate = parse_rate(text, "MESSENGER_X")
    except SettingsError as exc:
        refused_for = exc.variable
    else:
        refused_for = None
    if refused_for is not None:
        assert refused_for == "MESSENGER_X"
        return
    assert rate.limit > 0
    assert rate.window_seconds > 0


# --- widget session tokens --------------------------------------------------------------------

SIGNER = SessionSigner("s" * 48)
inbox_ids = st.integers(min_value=1, max_value=2**31)
NOW = 1_800_000_000


@PROPERTIES
@given(inbox_id=inbox_ids, visitor=st.uuids(), age=st.integers(0, SESSION_TTL_SECONDS))
def test_a_session_token_verifies_to_what_was_issued(
    inbox_id: int, visitor: uuid.UUID, age: int
) -> None:
    token = SIGNER.issue(inbox_id, visitor, now=NOW)
    session = SIGNER.verify(token, now=NOW + age)
    assert session is not None
    assert (session.inbox_id, session.visitor_id, session.issued_at) == (inbox_id, visitor, NOW)


def _spare_bits_variant(token: str) -> str:
    """The same token with the payload's last character's unused low bits set: the
    base64 decoder reads the same bytes."""
    prefix, payload, signature = token.split(".")
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    last = alphabet.index(payload[-1])
    spare = {2: 0b1111, 3: 0b11}.get(len(payload) % 4, 0)
    return f"{prefix}.{payload[:-1]}{alphabet[last | spare]}.{signature}"


def test_a_token_spelled_another_way_for_the_same_bytes_is_refused() -> None:
    token = SIGNER.issue(7, uuid.UUID(int=1), now=NOW)
    prefix, payload, signature = token.split(".")
    variants = {
        _spare_bits_variant(token),
        f"{prefix}.{payload[:5]}!{payload[5:]}.{signature}",  # a character the decoder skips
        f"{prefix}.{payload}==.{signature}",
    } - {token}
    assert variants
    for variant in variants:
        assert SIGNER.verify(variant, now=NOW) is None, variant


@PROPERTIES
@given(inbox_id=inbox_ids, visitor=st.uuids(), data=st.data())
def test_any_change_to_a_session_token_is_refused(
    inbox_id: int, visitor: uuid.UUID, data: st.DataObject
) -> None:
    token = SIGNER.issue(inbox_id, visitor, now=NOW)
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from(string.ascii_letters + string.digits + "-_.=!~ "))
    changed = data.draw(
        st.sampled_from(
            [
                token[:position] + replacement + token[position + 1 :],  # one character
                token[:position] + replacement + token[position:],  # one more character
                token[:position] + token[position + 1 :],  # one character fewer
            ]
        )
    )
    assume(changed != token)
    assert SIGNER.verify(changed, now=NOW) is None


@PROPERTIES
@given(inbox_id=inbox_ids, visitor=st.uuids())
def test_tokens_of_another_secret_or_past_their_life_are_refused(
    inbox_id: int, visitor: uuid.UUID
) -> None:
    token = SessionSigner("t" * 48).issue(inbox_id, visitor, now=NOW)
    assert SIGNER.verify(token, now=NOW) is None
    own = SIGNER.issue(inbox_id, visitor, now=NOW)
    assert SIGNER.verify(own, now=NOW + SESSION_TTL_SECONDS + 3600) is None
    assert SIGNER.verify(own, now=NOW - 3600) is None


@PROPERTIES
@given(token=st.text(max_size=600))
def test_any_text_as_a_session_token_is_refused_without_an_error(token: str) -> None:
    assert SIGNER.verify(token, now=NOW) is None


# --- Last-Event-ID ----------------------------------------------------------------------------


@PROPERTIES
@given(value=st.integers(min_value=0, max_value=MAX_EVENT_ID), spaces=st.sampled_from(["", " "]))
def test_a_message_id_in_last_event_id_is_read(value: int, spaces: str) -> None:
    assert parse_last_event_id(f"{spaces}{value}{spaces}", None) == value


@PROPERTIES
@given(header=st.text(max_size=30), query=st.none() | st.integers(0, MAX_EVENT_ID))
@example(header="²", query=None)
@example(header="٣", query=None)
@example(header="9" * 5000, query=7)
@example(header=str(2**63), query=None)
@example(header="-1", query=None)
def test_anything_else_in_last_event_id_counts_as_absent(header: str, query: int | None) -> None:
    result = parse_last_event_id(header, query)
    stripped = header.strip()
    digits = bool(stripped) and all(ch in string.digits for ch in stripped)
    if digits and len(stripped) <= 19 and int(stripped) <= MAX_EVENT_ID:
        assert result == int(stripped)
    else:
        assert result == query


# --- file names -------------------------------------------------------------------------------


@PROPERTIES
@given(name=st.text(max_size=400))
@example(name="../../etc/passwd")
@example(name="C:\\Windows\\evil.exe")
@example(name="report\u202eexe.pdf")
@example(name="a" * 199 + " .txt")
@example(name="e\u0000\u0301")
def test_safe_filenames_have_no_path_no_controls_a_bounded_length_and_are_stable(
    name: str,
) -> None:
    safe = safe_filename(name)
    assert safe
    assert "/" not in safe
    assert "\\" not in safe
    assert len(safe) <= 200
    assert all(unicodedata.category(ch)[0] not in "CZ" or ch == " " for ch in safe)
    assert not safe.startswith((" ", ".")) or safe == "file"
    assert safe_filename(safe) == safe
