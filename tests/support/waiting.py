"""Waiting on a condition instead of sleeping: every wait is bounded and names what it waited for."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(
    check: Callable[[], Awaitable[Any]], *, within: float = 5.0, interval: float = 0.05
) -> Any:
    """Await ``check()`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            msg = f"condition not met within {within}s (last value {result!r})"
            raise AssertionError(msg)
        await asyncio.sleep(interval)
