"""This process's CPU per Redis command: redis-py's pooled client against the pipelined
connection (messenger/redis_pipe.py), for the widget's two hot commands.

    python loadtests/redis_cost.py [--calls 20000] [--concurrency 50] [--rounds 5]

Each round runs, for each client, ``--calls`` limits checks (the limits script of a send:
the inbox generation, a window and a gap, as ``RedisState.check`` sends it) and as many
PUBLISH scripts, ``--concurrency`` at a time (as the requests of a loaded worker issue
them), and takes this process's CPU time (``time.process_time``) and the wall time. The
two clients alternate within each round; the table gives the median of the rounds in µs
per command. Redis from ``REDIS_URL`` (default redis://127.0.0.1:6379/0), keys under the
prefix ``rediscost:`` (deleted at the end). Run it alone on the machine (flock
/tmp/bench.lock); only the ratio of one run is compared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable

import uvloop

from messenger.backends import redis_client, redis_pipe
from messenger.config import Settings
from messenger.state import Check, RedisState

PREFIX = "rediscost"


async def _timed(
    calls: int, concurrency: int, one: Callable[[int], Awaitable[object]]
) -> tuple[float, float]:
    queue = iter(range(calls))

    async def worker() -> None:
        for i in queue:
            await one(i)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - cpu) / calls * 1e6, (time.perf_counter() - wall) / calls * 1e6


async def main(args: argparse.Namespace) -> None:
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    settings = Settings.from_env()
    redis = redis_client(settings)
    pipe = redis_pipe(settings, redis)
    assert pipe is not None
    pooled, piped = RedisState(redis, PREFIX), RedisState(redis, PREFIX, pipe)

    def checks(i: int) -> list[Check]:
        session = i % 200
        return [
            Check(f"w:{session}", "window", 60_000, 1_000_000_000),
            Check(f"g:{session}:{i}", "gap", 1_000),
        ]

    source = "return redis.call('PUBLISH', KEYS[1], ARGV[1])"
    script = redis.register_script(source)
    payload = b'{"event":"message","data":{"id":1,"body":"' + b"x" * 200 + b'"}}'

    kinds: dict[str, dict[str, Callable[[int], Awaitable[object]]]] = {
        "limits check": {
            "redis-py": lambda i: pooled.check("gen", checks(i)),
            "pipe": lambda i: piped.check("gen", checks(i)),
        },
        "publish": {
            "redis-py": lambda i: script(keys=[f"{PREFIX}:ch:{i % 200}"], args=[payload]),
            "pipe": lambda i: pipe.run_script(
                script.sha, source, [f"{PREFIX}:ch:{i % 200}"], [payload]
            ),
        },
    }
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(args.rounds):
        for kind, clients in kinds.items():
            for name, one in clients.items():
                await _timed(200, args.concurrency, one)  # warm
                results.setdefault((kind, name), []).append(
                    await _timed(args.calls, args.concurrency, one)
                )
    print(
        f"{args.calls} calls x {args.rounds} rounds, {args.concurrency} at a time; median µs per call"
    )
    print("| command | client | CPU µs | wall µs | CPU / redis-py |")
    print("| --- | --- | ---: | ---: | ---: |")
    for kind in kinds:
        base = statistics.median(c for c, _ in results[(kind, "redis-py")])
        for name in kinds[kind]:
            cpu = statistics.median(c for c, _ in results[(kind, name)])
            wall = statistics.median(w for _, w in results[(kind, name)])
            print(f"| {kind} | {name} | {cpu:.1f} | {wall:.1f} | {cpu / base:.2f} |")
    keys = [key async for key in redis.scan_iter(f"{PREFIX}:*")]
    if keys:
        await redis.delete(*keys)
    await pipe.aclose()
    await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    uvloop.run(main(parser.parse_args()))
