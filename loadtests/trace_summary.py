"""Latency per window of a Locust run (``LOAD_TRACE_FILE`` of ``locustfile.py``): when in
the run the slow answers come (ramp, sign-ins) rather than one percentile per run.

    make load                                   # rounds.py writes var/load/run<N>-trace.csv
    python loadtests/trace_summary.py var/load/run1-trace.csv --window 5
    python loadtests/trace_summary.py var/load/run1-trace.csv --names open "list (page)"
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trace", type=Path)
    parser.add_argument("--window", type=float, default=5.0, help="seconds per row")
    parser.add_argument("--names", nargs="*", default=None, help="calls to show (default all)")
    args = parser.parse_args()
    rows = [
        (float(t), name, int(status), float(ms))
        for t, name, status, ms in csv.reader(args.trace.open(encoding="utf-8"))
    ]
    if not rows:
        raise SystemExit("empty trace")
    start = min(t for t, *_ in rows)
    names = args.names or sorted({name for _, name, _, _ in rows})
    cells: dict[tuple[int, str], list[float]] = defaultdict(list)
    for t, name, _, ms in rows:
        cells[(int((t - start) // args.window), name)].append(ms)
    last = max(window for window, _ in cells)
    width = max(len(n) for n in names) + 2
    print(f"{'from s':>6} " + "".join(f"{n[: width - 2]:>{width}}" for n in names))
    print("p95 ms (count) per window")
    for window in range(last + 1):
        line = f"{window * args.window:>6.0f} "
        for name in names:
            values = cells.get((window, name), [])
            text = f"{percentile(values, 0.95):.0f}({len(values)})" if values else "-"
            line += f"{text:>{width}}"
        print(line)


if __name__ == "__main__":
    main()
