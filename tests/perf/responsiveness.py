"""The gateway's event loop under heavy work: /healthz while a 5,000-row import runs, and while a burst of password changes hashes.

The gateway is served with uvicorn in this process and polled every 20 ms from the same event
loop (tests/identity/test_responsiveness.py's `polled_while`, which the tests use too), so work
that held the loop shows as a slow answer. Figures: the slowest /healthz answered while the
work ran, against the median /healthz of the idle gateway polled the same way just before (the
comparison); target: the slowest below 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys

from shared.db import create_engine
from tests.identity.committed import forget
from tests.identity.test_imports import upload
from tests.identity.test_responsiveness import change_passwords, mentors_without_passwords, new_school_list, polled_gateway, polled_while
from tests.perf.harness import Comparison, Figure, Machine, Target, scratch_database, write_figures

WORST_MS = 100.0


async def _idle(probe, seconds: float) -> list[float]:
    _, latencies = await polled_while(probe, lambda: asyncio.sleep(seconds))
    return latencies


def _figure(name: str, what: str, during: list[float], idle: list[float], details: dict) -> Figure:
    worst = max(during) * 1000
    print(f"{what}: {len(during)} polls answered meanwhile, slowest {worst:.1f} ms (p50 {statistics.median(during) * 1000:.1f} ms); "
          f"idle p50 {statistics.median(idle) * 1000:.2f} ms", flush=True)
    return Figure(name, round(worst, 2), "ms", Comparison("healthz_idle_p50", round(statistics.median(idle) * 1000, 3)),
                  Target("below", WORST_MS), details={"polls": len(during), "p50_ms": round(statistics.median(during) * 1000, 2), **details})


async def measure(url: str, rows: int, passwords: int) -> list[Figure]:
    engine = create_engine(url)
    figures = []
    try:
        async with polled_gateway(url) as (gw, probe, admin):
            idle = await _idle(probe, 1.0)
            school_id, data = await new_school_list(engine, rows)
            r, during = await polled_while(probe, lambda: gw.http.post("/identity/imports/students", files=upload(data, "students.xlsx"), headers=admin))
            assert r.status_code == 200 and r.json()["imported"] == rows, r.text
            figures.append(_figure("healthz_during_import", f"a {rows}-row import", during, idle, {"rows": rows}))
            await forget(engine, schools=[school_id])
            people = await mentors_without_passwords(engine, passwords)
            answers, during = await polled_while(probe, change_passwords(gw, admin, people))
            assert {a.status_code for a in answers} == {200}
            figures.append(_figure("healthz_during_password_changes", f"{passwords} password changes at once", during, idle,
                                   {"passwords": passwords}))
            await forget(engine, users=people)
    finally:
        await engine.dispose()
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.responsiveness", description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=5000, help="students in the import (100-20000)")
    p.add_argument("--passwords", type=int, default=8, help="password changes sent at once (1-64)")
    args = p.parse_args(argv)
    if not (100 <= args.rows <= 20000 and 1 <= args.passwords <= 64):
        p.error("--rows in [100, 20000], --passwords in [1, 64]")
    started = Machine.now()
    with scratch_database() as url:
        figures = asyncio.run(measure(url, args.rows, args.passwords))
    write_figures("responsiveness", figures, started=started, options=args)
    return 0 if all(f.target_met for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
