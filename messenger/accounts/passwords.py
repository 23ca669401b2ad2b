"""Argon2id password hashing (argon2-cffi's defaults follow RFC 9106's recommendations).

Hashing costs ~0.1 s of CPU and 64 MiB: the ``*_off_loop`` functions run it in a small
thread pool of its own (at most :data:`HASH_THREADS` at once per process, the rest wait in
its queue), so a sign-in never stalls the streams and calls of its worker, and a burst of
attempts cannot take all memory.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

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
    return _hasher.check_needs_rehash(password_hash)


async def hash_password_off_loop(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_pool, hash_password, password)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    """:func:`verify_password` in the hashing pool (an unknown account verifies the dummy
    hash there too: the same work and time either way)."""
    return await asyncio.get_running_loop().run_in_executor(
        _pool, verify_password, password_hash, password
    )
