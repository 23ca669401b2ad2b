"""Argon2id password hashing with one of OWASP's recommended parameter sets (m = 7 MiB,
t = 5, p = 1).

Why not argon2-cffi's defaults (RFC 9106's 64 MiB, 3 passes, 4 lanes): on this
project's machine they cost ≈ 210 ms of CPU per hash against ≈ 25 ms for OWASP's sets, so
ten operators signing in at once under visitor load waited 1.4 to 2.3 s (docs/performance.md).
OWASP's Password Storage Cheat Sheet lists five configurations of equal defence, from
m = 46 MiB, t = 1 to m = 7 MiB, t = 5 (same memory times passes). Of those, the 7 MiB one is
the fastest here — 29 ms against 48 ms for m = 19 MiB, t = 2 (median of 15 verifications
each, interleaved, 2026-11-30): a fresh block is mapped and page-faulted at every hash
(:mod:`messenger.memory`), and a smaller one costs fewer faults and stays in the cache. Online guessing is held by the sign-in throttle and
proof-of-work anyway (``dashboard/signin.py``); the cost guards a stolen database.
Hashes made with stronger parameters still verify and are kept (:func:`needs_rehash`
upgrades only weaker ones).

Hashing runs in a small thread pool of its own (the ``*_off_loop`` functions: at most
:data:`HASH_THREADS` at once per process, the rest wait in its queue), so a sign-in never
stalls the streams and calls of its worker, and a burst of attempts cannot take all memory.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=5, memory_cost=7 * 1024, parallelism=1)

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
#: Password hashes computed at once per process (argon2-cffi itself uses 1 lane each).
HASH_THREADS = 2

_pool = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="argon2")

# Verified against when the e-mail is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True for a hash weaker than ours (fewer passes or less memory, or not Argon2id); a
    stronger one (made with earlier, costlier defaults) is kept as it is."""
    try:
        stored = extract_parameters(password_hash)
    except InvalidHashError:
        return True
    ours = _hasher
    return (
        stored.type is not Type.ID
        or stored.time_cost * stored.memory_cost < ours.time_cost * ours.memory_cost
        or stored.memory_cost < ours.memory_cost
        or stored.hash_len < ours.hash_len
        or stored.salt_len < ours.salt_len
    )


async def hash_password_off_loop(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, hash_password, password)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    """:func:`verify_password` in the hashing pool (an unknown account verifies the dummy
    hash there too: the same work and time either way)."""
    return await asyncio.get_running_loop().run_in_executor(
        _pool, verify_password, password_hash, password
    )
