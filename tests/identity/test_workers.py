"""The worker processes that take CPU work off the gateway's event loop: a worker that dies fails
only the call it was running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.gateway.identity import workers

ROOT = Path(__file__).resolve().parents[2]


def _die() -> None:
    os._exit(3)  # as the out-of-memory killer would end it: no exception, no answer


def _pid() -> int:
    return os.getpid()


async def test_work_runs_in_another_process_at_a_lower_priority():
    assert await workers.run(pow, 2, 10) == 1024
    assert await workers.run(_pid) != os.getpid()
    assert await workers.run(os.nice, 0) == os.nice(0) + workers.WORKER_NICENESS


async def test_a_worker_that_dies_fails_its_call_and_the_next_call_gets_a_new_worker():
    with pytest.raises(workers.WorkerFailed):
        await workers.run(_die)
    assert await workers.run(pow, 3, 3) == 27


def test_workers_do_not_outlive_the_process_that_started_them(tmp_path):
    """Killed outright (SIGKILL, the out-of-memory killer; uvicorn's SIGTERM ends the same way),
    the gateway runs no cleanup: its workers must still go."""
    script = tmp_path / "gateway.py"
    script.write_text(
        "import asyncio, os, signal\n"
        "from services.gateway.identity import workers\n"
        "if __name__ == '__main__':\n"
        "    print(asyncio.run(workers.run(os.getpid)), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    gateway = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    worker = int(gateway.stdout.readline())
    try:
        gateway.wait(timeout=60)
        deadline = time.monotonic() + 20  # a bound that only catches a worker left running
        while _alive(worker):
            assert time.monotonic() < deadline, f"worker {worker} outlived its parent"
            time.sleep(0.1)
    finally:
        gateway.stdout.close()
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
