"""The worker processes that take CPU work off the gateway's event loop: a worker that dies fails
only the call it was running."""

from __future__ import annotations

import os

import pytest

from services.gateway.identity import workers


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
