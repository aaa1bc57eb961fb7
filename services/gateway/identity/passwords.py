"""Password hashing: Argon2id through pwdlib, the one place that hashes or checks a password."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

# A password shorter than this is refused wherever one is set (admin, `sprout user create`).
MIN_LENGTH = 10
MAX_LENGTH = 256

# OWASP's Password Storage Cheat Sheet, first Argon2id option: 19 MiB, 2 passes, 1 lane. About
# a tenth of argon2-cffi's defaults (64 MiB, 3 passes, 4 lanes) in memory and CPU per sign-in,
# so a burst of logins cannot exhaust a gateway replica, and still far beyond what GPU
# guessing can afford. Hashes made with other parameters are replaced on the next successful
# sign-in (`verify_password` returns the new hash).
ARGON2_MEMORY_KIB = 19_456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1


@lru_cache(maxsize=1)
def hasher() -> PasswordHash:
    return PasswordHash(
        (Argon2Hasher(memory_cost=ARGON2_MEMORY_KIB, time_cost=ARGON2_TIME_COST, parallelism=ARGON2_PARALLELISM),)
    )


def hash_password(password: str) -> str:
    return hasher().hash(password)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


HASHING_NICENESS = 10


def _lower_priority() -> None:
    # On Linux niceness belongs to the thread, so only the hashing threads yield the CPU.
    if sys.platform.startswith("linux"):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


# Argon2 releases the GIL, so in a thread it leaves the event loop free, but not the CPU: a
# burst of password changes on every core would still starve the loop. These threads leave
# one core to it, and yield the other to it too when it needs one; further hashes queue here.
_hashing = ThreadPoolExecutor(
    max_workers=max(1, _cores() - 1), thread_name_prefix="argon2", initializer=_lower_priority
)


async def hash_password_in_thread(password: str) -> str:
    """`hash_password` off the event loop: what a request handler calls."""
    return await asyncio.get_running_loop().run_in_executor(_hashing, hash_password, password)


async def verify_password_in_thread(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """`verify_password` off the event loop, in the same threads."""
    return await asyncio.get_running_loop().run_in_executor(_hashing, verify_password, password, password_hash)


def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """(matches, a new hash when the stored one used weaker parameters and should be replaced).

    With no stored hash it still spends the time of one verification, so a login cannot tell
    "no such user" from "wrong password" by how long it takes.
    """
    if password_hash is None:
        hasher().verify(password, _dummy_hash())
        return False, None
    return hasher().verify_and_update(password, password_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hasher().hash("not a password anyone has")


def password_problem(password: str) -> str | None:
    """Why `password` cannot be used, or None."""
    if len(password) < MIN_LENGTH:
        return f"at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"at most {MAX_LENGTH} characters"
    return None
