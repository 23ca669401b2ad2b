"""Summarise a py-spy profile (``--format raw``: collapsed stacks, one "a;b;c count" a line)
by module: where the worker's busy samples are spent, by the frame running (self) and by
every module on the stack (inclusive: a stack counts once for each module in it).

    python loadtests/profile_summary.py var/bench/send.folded
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

#: (bucket, pattern on a frame's file path), first match wins.
BUCKETS = [
    ("sqlalchemy ORM", r"^sqlalchemy/orm/"),
    ("sqlalchemy engine/sql", r"^sqlalchemy/"),
    ("advanced_alchemy", r"^advanced_alchemy/"),
    ("litestar", r"^litestar/"),
    ("asyncpg", r"^asyncpg/"),
    ("redis", r"^redis/"),
    ("msgspec", r"^msgspec/"),
    ("uvicorn/httptools", r"^(uvicorn|httptools)/"),
    ("structlog/logging", r"^(structlog|logging)/"),
    ("prometheus", r"^prometheus_client/"),
    ("our code (messenger)", r"^messenger/"),
    ("asyncio/uvloop", r"^(asyncio|uvloop)/"),
]
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:()]*)(?::(?P<line>\d+))?\)$")


def bucket(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    path = match["file"] if match else frame
    for name, pattern in BUCKETS:
        if re.search(pattern, path):
            return name
    return "other (stdlib, other libraries)"


def summarize(path: Path, top: int = 25) -> dict[str, Any]:
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f]
        if frames and frames[0].startswith(("process ", "thread ")):
            frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        # Every task's stack starts with the process's entry (click, uvicorn.run, the
        # event loop's run); what the loop runs starts after it.
        entry = [i for i, f in enumerate(frames) if f.startswith("Runner.run (asyncio/runners")]
        if entry:
            frames = frames[entry[-1] + 1 :]
        if not frames:
            continue
        total += count
        self_counts[bucket(frames[-1])] += count
        for name in {bucket(f) for f in frames}:
            inclusive[name] += count
        for frame in {f for f in frames if "(messenger/" in f or "(sqlalchemy/orm/" in f}:
            functions[frame] += count

    def pct(counter: Counter[str]) -> dict[str, float]:
        return {k: round(100 * v / total, 1) for k, v in counter.most_common()} if total else {}

    return {
        "samples": total,
        "by_module_self": pct(self_counts),
        "by_module_inclusive": pct(inclusive),
        "top_functions_inclusive": dict(list(pct(functions).items())[:top]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path)
    args = parser.parse_args()
    print(json.dumps(summarize(args.path), indent=2))


if __name__ == "__main__":
    main()
