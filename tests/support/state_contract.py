"""The contract of the shared-state backends (``messenger/state.py``), written once.

``hit``, ``claim``, ``put`` and ``take``, expiry included. A test module subclasses
:class:`StateContract` and provides two fixtures: ``state`` (the backend under test) and
``let_expire`` (an async callable ``let_expire(key, ttl_ms)`` that returns once a key
written with that TTL has expired: a fake clock moved on for the in-memory backend, the key
seen gone for Redis — never a fixed sleep). The unit tests run it on ``MemoryState``, the
integration tests on ``RedisState`` against a real Redis.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from messenger.state import Check, SharedState

LetExpire = Callable[[str, int], Awaitable[None]]

WINDOW_MS = 300


class StateContract:
    # --- hit: fixed-window counters ----------------------------------------------------------

    async def test_hits_count_up_within_a_window(self, state: SharedState) -> None:
        counts = [await state.hit("w", WINDOW_MS) for _ in range(3)]
        assert [count for count, _ in counts] == [1, 2, 3]
        for _, left in counts:
            assert 0 < left <= WINDOW_MS

    async def test_a_window_starts_again_after_it_expired(
        self, state: SharedState, let_expire: LetExpire
    ) -> None:
        await state.hit("w", WINDOW_MS)
        await state.hit("w", WINDOW_MS)
        await let_expire("w", WINDOW_MS)
        count, left = await state.hit("w", WINDOW_MS)
        assert count == 1
        assert 0 < left <= WINDOW_MS

    async def test_windows_are_counted_per_key(self, state: SharedState) -> None:
        await state.hit("a", WINDOW_MS)
        await state.hit("a", WINDOW_MS)
        assert (await state.hit("b", WINDOW_MS))[0] == 1
        assert (await state.hit("a", WINDOW_MS))[0] == 3

    async def test_a_later_hit_does_not_extend_the_window(
        self, state: SharedState, let_expire: LetExpire
    ) -> None:
        _, first_left = await state.hit("w", WINDOW_MS)
        _, later_left = await state.hit("w", 60_000)  # a longer window asked later: same window
        assert later_left <= first_left
        await let_expire("w", WINDOW_MS)
        assert (await state.hit("w", WINDOW_MS))[0] == 1

    # --- claim: one holder until it expires ----------------------------------------------------

    async def test_a_claim_is_held_until_it_expires(
        self, state: SharedState, let_expire: LetExpire
    ) -> None:
        assert await state.claim("c", WINDOW_MS) == 0
        held = await state.claim("c", WINDOW_MS)
        assert 0 < held <= WINDOW_MS
        assert await state.claim("other", WINDOW_MS) == 0  # per key
        await let_expire("c", WINDOW_MS)
        assert await state.claim("c", WINDOW_MS) == 0

    async def test_a_refused_claim_does_not_extend_the_hold(
        self, state: SharedState, let_expire: LetExpire
    ) -> None:
        assert await state.claim("c", WINDOW_MS) == 0
        assert await state.claim("c", 60_000) > 0
        await let_expire("c", WINDOW_MS)
        assert await state.claim("c", WINDOW_MS) == 0

    # --- put / take: a value taken once ------------------------------------------------------

    async def test_a_value_is_taken_once(self, state: SharedState) -> None:
        await state.put("v", b"payload", 60_000)
        assert await state.take("v") == b"payload"
        assert await state.take("v") is None

    async def test_taking_a_missing_key_is_none(self, state: SharedState) -> None:
        assert await state.take("never-put") is None

    async def test_a_later_put_replaces_the_value(self, state: SharedState) -> None:
        await state.put("v", b"first", 60_000)
        await state.put("v", b"second", 60_000)
        assert await state.take("v") == b"second"

    async def test_a_value_expires_untaken(self, state: SharedState, let_expire: LetExpire) -> None:
        await state.put("v", b"payload", WINDOW_MS)
        await state.put("kept", b"kept", 60_000)
        await let_expire("v", WINDOW_MS)
        assert await state.take("v") is None
        assert await state.take("kept") == b"kept"

    async def test_values_are_kept_per_key(self, state: SharedState) -> None:
        await state.put("a", b"A", 60_000)
        await state.put("b", b"B", 60_000)
        assert await state.take("b") == b"B"
        assert await state.take("a") == b"A"

    # --- enter / leave: capped sets of expiring leases (open streams) ------------------------

    async def test_a_full_set_refuses_a_new_member_and_names_itself(
        self, state: SharedState
    ) -> None:
        caps = {"small": 2, "large": 5}
        assert await state.enter(caps, "a", 60_000) is None
        assert await state.enter(caps, "b", 60_000) is None
        assert await state.enter(caps, "c", 60_000) == "small"
        assert await state.enter(caps, "a", 60_000) is None  # a member renews itself
        # Refused means added nowhere: "large" still has room for three.
        for member in ("x", "y", "z"):
            assert await state.enter({"large": 5}, member, 60_000) is None
        assert await state.enter({"large": 5}, "w", 60_000) == "large"

    async def test_leaving_frees_a_place(self, state: SharedState) -> None:
        assert await state.enter({"s": 1}, "a", 60_000) is None
        assert await state.enter({"s": 1}, "b", 60_000) == "s"
        await state.leave(["s"], "a")
        assert await state.enter({"s": 1}, "b", 60_000) is None

    async def test_an_unrenewed_lease_expires(
        self, state: SharedState, let_expire: LetExpire
    ) -> None:
        assert await state.enter({"s": 1}, "crashed", WINDOW_MS) is None
        assert await state.enter({"s": 1}, "new", WINDOW_MS) == "s"
        await let_expire("s", WINDOW_MS)
        assert await state.enter({"s": 1}, "new", WINDOW_MS) is None

    async def test_renewing_many_leases_at_once_keeps_or_adds_them_and_never_refuses(
        self, state: SharedState
    ) -> None:
        assert await state.enter({"s": 1}, "a", 60_000) is None
        # "b" is renewed into "s" past its cap (a renewal never refuses), and into "t".
        await state.renew([(["s"], "a"), (["s", "t"], "b")], 60_000)
        await state.leave(["s"], "a")
        assert await state.enter({"s": 1}, "c", 60_000) == "s"  # "b" holds it
        assert await state.enter({"t": 1}, "c", 60_000) == "t"
        await state.leave(["s", "t"], "b")
        await state.renew([], 60_000)
        assert await state.enter({"s": 1, "t": 1}, "c", 60_000) is None

    # --- check: all limits of a call in one step, and the watched generation -------------

    async def test_check_counts_every_limit_and_reads_the_generation(
        self, state: SharedState
    ) -> None:
        limits = [Check("a", "window", 60_000, 2), Check("b", "window", 60_000, 5)]
        assert (await state.check("gen", limits)).generation == 0
        await state.bump("gen")
        await state.bump("gen")
        checked = await state.check("gen", limits)
        assert (checked.generation, checked.refused, checked.counts) == (2, None, (2, 2))
        refused = await state.check("gen", limits)  # the third hit of "a"
        assert refused.refused == 0
        assert 0 < refused.retry_ms <= 60_000
        # The refusal stopped the check: "b" was counted by the first two calls only.
        assert (await state.hit("b", 60_000))[0] == 3

    async def test_check_refuses_at_the_first_full_limit(self, state: SharedState) -> None:
        limits = [Check("s", "window", 60_000, 10), Check("ip", "window", 60_000, 1)]
        assert (await state.check("gen", limits)).refused is None
        refused = await state.check("gen", limits)
        assert refused.refused == 1  # the second limit, by its index
        assert refused.counts == (2, 2)

    async def test_a_gap_admits_one_call_until_it_expires(
        self, state: SharedState, let_expire: LetExpire
    ) -> None:
        gap = [Check("g", "gap", WINDOW_MS)]
        assert (await state.check("gen", gap)).refused is None
        again = await state.check("gen", gap)
        assert again.refused == 0
        assert 0 < again.retry_ms <= WINDOW_MS
        await let_expire("g", WINDOW_MS)
        assert (await state.check("gen", gap)).refused is None
