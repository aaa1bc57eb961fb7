"""Worker processes for CPU work that must not run on a service's event loop.

Reading a large uploaded workbook (shared/sheets) and sealing thousands of values takes
seconds of pure Python, and openpyxl holds the GIL all along: in a thread it would still
starve the loop of the interpreter lock. In another process it costs the loop nothing.

Each app that needs them has one `WorkerPool` (`worker_pool(...)` as a router's or app's
lifespan, as `app.state.workers`), stopped with the app:

    router = APIRouter(prefix="/campaigns", lifespan=worker_pool(preload=["services.selection.scores.sheets"]))
    ...
    sheet = await request.app.state.workers.run(read_scores, data, max_rows=2000)

Workers are forked from a fork server that has loaded the `preload` modules once, so a new
one starts in milliseconds (forking the service itself, a process with an event loop and
threads, is unsafe; spawning each worker afresh would import everything again). They start
on first use, run at a lower priority, and exit with the process that started them, even
when it is killed or ends the way uvicorn ends on SIGTERM (raising the signal again, with no
cleanup). A worker that dies breaks only the call it was running: the next call gets new
workers. What a call raises is raised to its caller (a `ProblemError` crosses intact).
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from fastapi import FastAPI

T = TypeVar("T")

# Two: an upload need not wait for another's, and a two-core host keeps a core for the loop
# and PostgreSQL. Workers start one at a time, only when every live one is busy.
MAX_WORKERS = 2
# Workers yield the CPU to the process serving requests: an import may take a second longer
# on a busy host, the requests of everyone else do not wait behind it.
WORKER_NICENESS = 10
PARENT_CHECK_SECONDS = 0.5
# What the fork server loads before it forks any worker: what every pool of the process
# asked for. The fork server starts with the first worker; modules asked for later are
# imported by each worker as it first needs them.
_preload: set[str] = {"shared.sheets"}

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(sorted(_preload))


class WorkerFailed(Exception):
    """The worker process running the call died before it answered."""


class WorkerPool:
    """Up to MAX_WORKERS worker processes, started on first use; `aclose` stops them."""

    def __init__(self, max_workers: int = MAX_WORKERS, *, preload: Iterable[str] = ()) -> None:
        self.max_workers = max_workers
        if not _preload.issuperset(preload):
            _preload.update(preload)
            _context.set_forkserver_preload(sorted(_preload))
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


def worker_pool(
    *, preload: Iterable[str] = (), max_workers: int = MAX_WORKERS
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan giving the app `app.state.workers` for its life, whose fork server has loaded `preload`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.workers = pool = WorkerPool(max_workers, preload=preload)
        try:
            yield
        finally:
            await pool.aclose()

    return lifespan


def _start_worker(owner: int) -> None:
    os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with, args=(owner,), name="exit-with-owner", daemon=True).start()


def _exit_with(owner: int) -> None:
    # The pool's own shutdown does not always run (SIGKILL, the out-of-memory killer,
    # uvicorn's SIGTERM). The service is not our parent (the fork server is), and the fork
    # server lives as long as any worker it forked, so the worker watches the service itself.
    while True:
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            os._exit(0)
        time.sleep(PARENT_CHECK_SECONDS)
