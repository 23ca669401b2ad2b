"""The open streams' shared lookups (messenger/realtime/batch.py): many keys, one fetch."""

from __future__ import annotations

import asyncio

import pytest

from messenger.realtime.batch import Coalescer


async def test_lookups_in_one_window_are_one_fetch() -> None:
    calls: list[list[str]] = []

    async def fetch(keys: list[str]) -> dict[str, int]:
        calls.append(sorted(keys))
        return {key: len(key) for key in keys if key != "none"}

    newest = Coalescer(fetch, window=0.01)
    found = await asyncio.gather(*(newest.get(k) for k in ["a", "bb", "a", "none"]))
    assert found == [1, 2, 1, None]
    assert calls == [["a", "bb", "none"]]
    assert await newest.get("ccc") == 3  # a later window: a new fetch
    assert len(calls) == 2


async def test_a_full_batch_goes_at_once_and_a_failure_reaches_every_caller() -> None:
    async def fetch(keys: list[int]) -> dict[int, int]:
        if 99 in keys:
            raise OSError("database away")
        return {key: key for key in keys}

    newest = Coalescer(fetch, window=60, max_keys=3)
    assert await asyncio.wait_for(asyncio.gather(*(newest.get(k) for k in range(3))), 1) == [
        0,
        1,
        2,
    ]
    failing = [asyncio.ensure_future(newest.get(k)) for k in (98, 99, 100)]
    for task in failing:
        with pytest.raises(OSError, match="database away"):
            await asyncio.wait_for(task, 1)


async def test_a_caller_that_goes_away_does_not_cancel_the_others() -> None:
    release = asyncio.Event()

    async def fetch(keys: list[str]) -> dict[str, int]:
        await release.wait()
        return dict.fromkeys(keys, 7)

    newest = Coalescer(fetch, window=0.001)
    leaving = asyncio.ensure_future(newest.get("x"))
    staying = asyncio.ensure_future(newest.get("x"))
    await asyncio.sleep(0.01)
    leaving.cancel()
    release.set()
    assert await asyncio.wait_for(staying, 1) == 7
