"""Worker processes for CPU work that must not run on the gateway's event loop.

Reading and sealing an import (`sheets.py`) takes seconds of pure Python for a large workbook,
and openpyxl holds the GIL all along: in a thread it would still starve the loop of the
interpreter lock. In another process it costs the loop nothing.

Each app has one `WorkerPool` (`lifespan`, as `app.state.workers`), stopped with the app.
Workers are forked from a fork server that has loaded `sheets.py` once, so a new one starts
in milliseconds (forking the gateway itself, a process with an event loop and threads, is
unsafe; spawning each worker afresh would import everything again). They start on first
use, run at a lower priority, and exit with the process that started them, even when it is
killed or ends the way uvicorn ends on SIGTERM (raising the signal again, with no cleanup).
A worker that dies breaks only the call it was running: the next call gets new workers.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from fastapi import FastAPI

T = TypeVar("T")

# Two: an import need not wait for another school's, and a two-core host keeps a core for
# the loop and PostgreSQL. Workers start one at a time, only when every live one is busy.
MAX_WORKERS = 2
# Workers yield the CPU to the process serving requests: an import may take a second longer
# on a busy host, the requests of everyone else do not wait behind it.
WORKER_NICENESS = 10
PARENT_CHECK_SECONDS = 0.5
# What the fork server loads before it forks any worker.
PRELOAD = ["services.gateway.identity.sheets"]

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)


class WorkerFailed(Exception):
    """The worker process running the call died before it answered."""


class WorkerPool:
    """Up to MAX_WORKERS worker processes, started on first use; `aclose` stops them."""

    def __init__(self, max_workers: int = MAX_WORKERS) -> None:
        self.max_workers = max_workers
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.max_workers, mp_context=_context, initializer=_start_worker,
                    initargs=(os.getpid(),),
                )
            return self._executor

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` in a worker process (`fn`, its arguments and its result must pickle)."""
        executor = self._current()
        try:
            # submit() may start a worker, which waits for the fork server to answer (seconds,
            # while it first loads PRELOAD): not on the event loop.
            future = await asyncio.to_thread(executor.submit, functools.partial(fn, *args, **kwargs))
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._discard(executor)
            raise WorkerFailed(getattr(fn, "__name__", repr(fn))) from None

    def _discard(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        """Stop the workers, once any call they are running has answered."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """`app.state.workers` for the app's life."""
    app.state.workers = pool = WorkerPool()
    try:
        yield
    finally:
        await pool.aclose()


def _start_worker(gateway: int) -> None:
    os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with, args=(gateway,), name="exit-with-gateway", daemon=True).start()


def _exit_with(gateway: int) -> None:
    # The pool's own shutdown does not always run (SIGKILL, the out-of-memory killer,
    # uvicorn's SIGTERM). The gateway is not our parent (the fork server is), and the fork
    # server lives as long as any worker it forked, so the worker watches the gateway itself.
    while True:
        try:
            os.kill(gateway, 0)
        except ProcessLookupError:
            os._exit(0)
        time.sleep(PARENT_CHECK_SECONDS)
