"""The worker processes that take CPU work off a service's event loop (shared/workers.py): started on first
use, at a lower priority, stopped with the app, gone with the process, and a worker that dies fails only its call."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.problems import ProblemError
from shared.workers import WORKER_NICENESS, WorkerFailed, WorkerPool
from tests.conftest import running_app
from tests.platform.conftest import sample_settings
from tests.platform.sample_service.app import create_app

ROOT = Path(__file__).resolve().parents[2]
# Bounds that only catch a worker left running.
GONE_WITHIN = 20.0


def _die() -> None:
    os._exit(3)  # as the out-of-memory killer would end it: no exception, no answer


def _pid() -> int:
    return os.getpid()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + GONE_WITHIN
    while _alive(pid):
        assert time.monotonic() < deadline, f"worker {pid} is still running"
        time.sleep(0.05)


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    workers = WorkerPool()
    try:
        yield workers
    finally:
        await workers.aclose()


async def test_work_runs_in_another_process_at_a_lower_priority(pool):
    assert await pool.run(pow, 2, 10) == 1024
    assert await pool.run(_pid) != os.getpid()
    assert await pool.run(os.nice, 0) == os.nice(0) + WORKER_NICENESS


async def test_a_worker_that_dies_fails_its_call_and_the_next_call_gets_a_new_worker(pool):
    with pytest.raises(WorkerFailed):
        await pool.run(_die)
    assert await pool.run(pow, 3, 3) == 27


def _refuse() -> None:
    raise ProblemError("import_empty")


async def test_a_problem_raised_in_a_worker_reaches_the_caller_as_itself(pool):
    with pytest.raises(ProblemError) as refused:
        await pool.run(_refuse)
    assert (refused.value.code, refused.value.status) == ("import_empty", 422)
    assert await pool.run(pow, 2, 2) == 4  # and the worker lives on


async def test_the_apps_workers_stop_with_the_app(sample_database_url):
    app = create_app(sample_settings(sample_database_url))
    async with running_app(app):
        worker = await app.state.workers.run(_pid)
        assert _alive(worker)
    _wait_gone(worker)


def test_workers_do_not_outlive_the_process_that_started_them(tmp_path):
    """Killed outright (SIGKILL, the out-of-memory killer; uvicorn's SIGTERM ends the same way),
    the service runs no cleanup: its workers must still go."""
    script = tmp_path / "service.py"
    script.write_text(
        "import asyncio, os, signal\n"
        "from shared.workers import WorkerPool\n"
        "if __name__ == '__main__':\n"
        "    print(asyncio.run(WorkerPool().run(os.getpid)), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    service = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    worker = int(service.stdout.readline())
    try:
        service.wait(timeout=60)
        _wait_gone(worker)
    finally:
        service.stdout.close()
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)
