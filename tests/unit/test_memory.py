"""Password hashes in threads do not stay resident (messenger/memory.py): measured in a
child process, with and without the pinned mmap threshold."""

from __future__ import annotations

import ctypes.util
import json
import subprocess
import sys

import pytest

from tests.support.env import ROOT

CHILD = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
if sys.argv[1] == "pinned":
    from messenger.memory import return_large_blocks
    assert return_large_blocks()
from messenger.accounts.passwords import hash_password, verify_password

def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))

stored = hash_password("correct horse battery staple")
before = rss_kib()
with ThreadPoolExecutor(max_workers=4) as pool:
    for _ in range(3):
        list(pool.map(lambda _: verify_password(stored, "wrong password"), range(8)))
print(json.dumps({"growth_kib": rss_kib() - before}))
"""


def _growth_kib(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return int(json.loads(out.stdout.strip().splitlines()[-1])["growth_kib"])


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None,
    reason="the mmap threshold is glibc's (Linux)",
)
def test_hashing_threads_give_their_memory_back() -> None:
    # Without the pin, each of the four threads keeps its 7 MiB block: the test can fail.
    assert _growth_kib("default") > 20 * 1024
    assert _growth_kib("pinned") < 6 * 1024


FREEZE_CHILD = """
import gc, json, weakref
import messenger.realtime.stream  # a good part of what a server holds for its whole life
from messenger.memory import freeze_what_is_alive

class Cycle:
    pass

gc.disable()  # no automatic collection in between: only the freeze's own may free it
garbage = Cycle()
garbage.me = garbage
gone = weakref.ref(garbage)
del garbage  # a cycle nobody holds: collected before the freeze, not frozen for good
frozen = freeze_what_is_alive()
print(json.dumps({"frozen": frozen, "count": gc.get_freeze_count(),
                  "tracked": len(gc.get_objects()), "cycle_left": gone() is not None}))
"""


def test_a_served_process_keeps_its_startup_objects_out_of_full_collections() -> None:
    # In a child: freezing this test process would keep its objects for good.
    out = subprocess.run(
        [sys.executable, "-c", FREEZE_CHILD],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["frozen"] == result["count"] > 10_000
    # What the collector still walks: almost nothing of what was alive at the freeze.
    assert result["tracked"] < result["frozen"] / 10
    assert not result["cycle_left"]
