"""A pool of worker processes for CPU work that must not run on the gateway's event loop.

Reading and sealing an import (`sheets.prepare`) takes seconds of pure Python for a large
workbook, and openpyxl holds the GIL all along: in a thread it would still starve the loop
of the interpreter lock. In another process it costs the loop nothing. Workers are started
with `spawn` (forking a process that runs an event loop and threads is unsafe), on first use,
and live as long as the process, and no longer; a worker that dies (killed, out of memory)
breaks only the call it was running: the next call gets a new pool.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

# Two: an import need not wait for another school's, and a two-core host keeps a core for
# the loop and PostgreSQL. Workers start one at a time, only when every live one is busy.
MAX_WORKERS = 2

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


class WorkerFailed(Exception):
    """The worker process running the call died before it answered."""


# Workers yield the CPU to the process serving requests: an import may take a second longer
# on a busy host, the requests of everyone else do not wait behind it.
WORKER_NICENESS = 10
PARENT_CHECK_SECONDS = 0.5


def _start_worker(parent: int) -> None:
    os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with, args=(parent,), name="exit-with-parent", daemon=True).start()


def _exit_with(parent: int) -> None:
    # A worker must not outlive its gateway, and the pool's own shutdown does not always run:
    # uvicorn ends on SIGTERM by raising the signal again once it has stopped (no atexit), and
    # SIGKILL or the out-of-memory killer skips everything.
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=MAX_WORKERS, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(os.getpid(),),
            )
        return _pool


def _discard(broken: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


async def run(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a worker process (`fn`, its arguments and its result must pickle)."""
    pool = _executor()
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args, **kwargs))
    except BrokenProcessPool:
        _discard(pool)
        raise WorkerFailed(getattr(fn, "__name__", repr(fn))) from None
