"""Memory the C allocator keeps: big blocks go back to the system when freed.

glibc's ``malloc`` serves a block over ``M_MMAP_THRESHOLD`` (128 KiB) with its own
``mmap`` and unmaps it on ``free`` — but its *dynamic* threshold rises to the size of
every such block freed, up to 32 MiB. A password hash is an Argon2 block of 7 to 19 MiB
(:mod:`messenger.accounts.passwords`): after the first one, every later hash (and every
other block up to its size) is carved from the heap of the thread that asked, and a
non-main thread's heap is trimmed only when its free top passes twice that threshold.
Each hashing thread then keeps that block resident for the life of the process. Measured
(with 19 MiB blocks):
four verifications in the hashing pool took a process from 21.8 to 80.2 MiB, six more in
asyncio's default pool to 197.1 MiB; with the threshold pinned, 21.8 → 22.1 MiB. Under
``make load`` the server's RSS grew 10 to 17 % from run to run as operators' sign-ins met
threads that had not hashed yet (docs/performance.md).

The rise also sends every block between 128 KiB and that size (a rendered list page, a large
JSON answer) to the threads' heaps, where they fragment. Pinning the threshold at glibc's
own starting value (any ``mallopt`` of it turns the dynamic adjustment off) keeps the
allocator as it was before the hashes' blocks shrank under 32 MiB (the old 64 MiB blocks
never raised it): big blocks are mapped and given back. The price is the page faults of a
fresh block at each hash, one reason the hash's parameters are the 7 MiB set. Elsewhere than
glibc (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger("messenger")

#: glibc's ``M_MMAP_THRESHOLD`` parameter number (malloc.h).
_M_MMAP_THRESHOLD = -3
#: Blocks of this size or more are mapped on their own and returned when freed (glibc's
#: default, before its dynamic rise).
MMAP_THRESHOLD_BYTES = 128 * 1024

_pinned = False


def return_large_blocks() -> bool:
    """Pin glibc's mmap threshold (once per process); False where there is no glibc."""
    global _pinned
    if _pinned:
        return True
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: no mallopt, nothing to pin
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _pinned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1)
    if not _pinned:
        log.warning("could not pin the allocator's mmap threshold")
    return _pinned


def freeze_what_is_alive() -> int:
    """Collect, then keep every object alive now out of the cyclic collector's way
    (``gc.freeze``); returns how many were frozen.

    For a served process once it has started: its modules, the app, its routes, SQLAlchemy's
    mappers, the templates (about 250,000 tracked objects) live as long as the process, and
    every full collection walked them all again. With 5,000 open streams a full collection
    took 0.6 to 1.1 s, every 7 to 9 s, and the event loop stood still meanwhile (``/ready``
    answered in up to a second; docs/performance.md, "/ready with 5,000 open streams").
    Frozen objects are still freed by reference counting; only a cycle among them would stay
    (hence the collection first). Not for a process that builds many apps (the tests): an
    app dropped after the freeze would never be collected.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
