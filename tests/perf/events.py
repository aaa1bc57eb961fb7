"""Event bus latency: publish commit -> handler start, at a steady publish rate; and the claim's cost with timers waiting.

The consumer runs in its own process (`tests.events.consumer_process`, one `run_consumers`
loop, 5 s poll, so every wake-up is a NOTIFY), as a consuming service would; this process
publishes one event per transaction at `--rate` events/s for `--seconds` seconds, noting
the wall-clock time just before each COMMIT. The handler notes the wall-clock time as it
starts and writes it into its effect row. Latency is the difference, so it includes the
commit itself, the NOTIFY, the claim (its query and its commit) and the savepoint. Figure
`latency_p99`, compared with the p99 of the COMMITs themselves (the part of the latency the
bus cannot shorten, and as moved as it by the machine's load). Target: p99 below 20 ms.

Then, on the same scratch database, the claim itself (`worker.claim_due`: locking, counting
the attempts, scheduling the retries; in a transaction rolled back each time) of 32 due deliveries, for two consumers in alternation: one with
`--timers` timers not yet due (100,000 by default), one with none ("bare"). First with the
statistics taken before the timers existed (autovacuum lagging behind), then after ANALYZE.
Figures `claim_with_timers` (stale statistics) and `claim_with_timers_analyzed`: the median
claim time with timers versus bare, with the rows each claim read from the delivery table
(PostgreSQL's own counters) as details. Target: ratio below 2.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.perf.harness import Comparison, Figure, Machine, Target, exit_on_sigterm, scratch_database, write_figures

TARGET_P99_MS = 20.0
TARGET_CLAIM_RATIO = 2.0
EVENT_TYPE = "perf.events.latency"
CONSUMER = "perf_latency"
CLAIM_CONSUMER = "perf_claim"
CLAIM_RUNS = 300

# Timers of 20,000 students, due over the next 30 days, written as `publish` would write them.
_TIMERS = """
    WITH e AS (
        INSERT INTO events.event (event_id, type, version, source, subject, payload, occurred_at)
        SELECT gen_random_uuid(), :type, 1, 'perf', 'student-' || (g % 20000), jsonb_build_object('seq', g, 'note', ''), :now
        FROM generate_series(1, :n) g
        RETURNING id, subject
    )
    INSERT INTO events.delivery (consumer, event_id, subject, available_at)
    SELECT :consumer, e.id, e.subject, :now + make_interval(secs => 3600 + random() * 30 * 86400) FROM e
"""


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))]


async def _run(url: str, workdir: Path, rate: float, seconds: float, batch: int) -> dict:
    from sqlalchemy import text

    from shared.db import create_engine, sessionmaker
    from shared.events import Consumer, publish, register_subscriptions
    from tests.events.support import EFFECT_DDL, ConsumerProcess, Ping, register_ping

    register_ping(EVENT_TYPE)
    engine = create_engine(url, pool_size=2, max_overflow=0)
    proc: ConsumerProcess | None = None
    try:
        async with engine.begin() as conn:
            for ddl in EFFECT_DDL:
                await conn.execute(text(ddl))
        await register_subscriptions(engine, [Consumer(CONSUMER, {EVENT_TYPE: _unused})])
        proc = ConsumerProcess(
            workdir, db=url, consumer=CONSUMER, event_type=EVENT_TYPE, tag="consumer", batch=batch, poll=5.0
        )
        await proc.wait_ready(timeout=60)

        factory = sessionmaker(engine)
        committing: dict[str, float] = {}
        commit_seconds: list[float] = []
        total = int(rate * seconds)
        behind = 0
        start = time.monotonic()
        for n in range(total):
            due = start + n / rate
            pause = due - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            else:
                behind += 1
            async with factory() as session:
                await session.begin()
                event = await publish(session, type=EVENT_TYPE, subject=f"s{n % 100}", payload=Ping(seq=n), source="perf")
                t0 = time.time()
                await session.commit()
                commit_seconds.append(time.time() - t0)
            committing[str(event.event_id)] = t0
        elapsed = time.monotonic() - start

        deadline = time.monotonic() + 30
        while True:
            async with engine.connect() as conn:
                found = (await conn.execute(text("SELECT count(*) FROM test_effects.effect"))).scalar()
            if found >= total or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        async with engine.connect() as conn:
            started = (await conn.execute(text("SELECT event_id::text, started_at FROM test_effects.effect"))).all()
    finally:
        if proc is not None:
            await proc.stop()
            proc.close()
        await engine.dispose()

    latencies = sorted((s - committing[e]) * 1000 for e, s in started if e in committing)
    return {
        "published": total,
        "handled": len(latencies),
        "rate": total / elapsed,
        "behind": behind,
        "latencies": latencies,
        "commit_ms": sorted(x * 1000 for x in commit_seconds),
    }


async def _claim_cost(url: str, timers: int) -> dict:
    """Claim times (ms) and rows read per claim, for a consumer without timers and one with `timers` of them."""
    from sqlalchemy import text

    from shared import clock
    from shared.db import create_engine, sessionmaker
    from shared.events import Consumer, RetryPolicy, register_subscriptions
    from shared.events.worker import claim_due
    from tests.events.support import bulk_publish_pings, delivery_rows_read

    engine = create_engine(url, pool_size=1, max_overflow=0)
    bare, loaded = (Consumer(f"{CLAIM_CONSUMER}_{k}", {EVENT_TYPE: _unused}) for k in ("bare", "timers"))
    factory = sessionmaker(engine)
    retry = RetryPolicy(max_attempts=8, base=1.0, cap=600.0)

    async def claim(consumer: Consumer) -> tuple[float, int]:
        async with factory() as session, session.begin():
            before = await delivery_rows_read(session)
            t0 = time.perf_counter()
            found = await claim_due(
                session, consumer=consumer.name, types=consumer.event_types, now=clock.now(), limit=32, retry=retry
            )
            seconds = time.perf_counter() - t0
            read = await delivery_rows_read(session) - before
            assert len([r for r in found if r.delivery_id]) == 32, len(found)
            await session.rollback()
        return seconds, read

    async def measure() -> dict:
        # In alternation, so that the machine's load weighs on both alike.
        seconds: dict[str, list[float]] = {"bare": [], "timers": []}
        read: dict[str, int] = {}
        for _ in range(CLAIM_RUNS):
            for key, consumer in (("bare", bare), ("timers", loaded)):
                took, read[key] = await claim(consumer)
                seconds[key].append(took * 1000)
        out = {}
        for key, ms in seconds.items():
            ms.sort()
            out[key] = {"median_ms": round(statistics.median(ms), 3), "p99_ms": round(_percentile(ms, 0.99), 3), "rows_read": read[key]}
        return out

    try:
        async with engine.begin() as conn:
            # A scratch database: autovacuum would analyze the timers mid-measurement, and
            # compete for the cores; here statistics go stale, and fresh, when we say so.
            for table in ("events.delivery", "events.event"):
                await conn.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
        await register_subscriptions(engine, [bare, loaded])
        await bulk_publish_pings(engine, EVENT_TYPE, [(f"due-{i}", i) for i in range(32)])
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE events.delivery"))
            await conn.execute(text(_TIMERS), {"type": EVENT_TYPE, "consumer": loaded.name, "now": clock.now(), "n": timers})
        stale = await measure()
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE events.delivery"))
        analyzed = await measure()
    finally:
        await engine.dispose()
    return {"stale_statistics": stale, "analyzed": analyzed}


async def _unused(session, event) -> None:  # the subscription's owner runs in the consumer process
    raise AssertionError("handled in the consumer process")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.events", description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=200.0, help="events published per second (at most 2000)")
    p.add_argument("--seconds", type=float, default=10.0, help="how long to publish (at most 60)")
    p.add_argument("--batch", type=int, default=32, help="the consumer's events_batch_size")
    p.add_argument("--timers", type=int, default=100_000, help="timers not yet due for the claim's cost (at most 1,000,000)")
    args = p.parse_args(argv)
    if not 0 < args.rate <= 2000 or not 0 < args.seconds <= 60:
        p.error("--rate must be in (0, 2000] and --seconds in (0, 60]")
    if not 0 < args.timers <= 1_000_000:
        p.error("--timers must be in (0, 1000000]")
    exit_on_sigterm()
    started = Machine.now()

    print(f"event latency: publish {args.rate:g} events/s for {args.seconds:g} s, one event per transaction", flush=True)
    print("  consumer: tests.events.consumer_process in its own process, batch "
          f"{args.batch}, poll 5 s (wake-ups by NOTIFY); measured from just before COMMIT to handler start", flush=True)
    with tempfile.TemporaryDirectory(prefix="sprout-bench-") as tmp, scratch_database() as url:
        r = asyncio.run(_run(url, Path(tmp), args.rate, args.seconds, args.batch))
        claim = asyncio.run(_claim_cost(url, args.timers))

    lat, commits = r["latencies"], r["commit_ms"]
    print(f"  published {r['published']} at {r['rate']:.1f}/s ({r['behind']} sent late), handled {r['handled']}")
    if not lat:
        print("  no event reached its handler", file=sys.stderr)
        return 1
    p50, p90, p99 = (_percentile(lat, q) for q in (0.5, 0.9, 0.99))
    print(f"  latency ms: p50 {p50:.2f}  p90 {p90:.2f}  p99 {p99:.2f}  max {lat[-1]:.2f}  (n={len(lat)})")
    print(f"  COMMIT ms: p50 {_percentile(commits, 0.5):.2f}  p99 {_percentile(commits, 0.99):.2f}")

    print(f"claim of 32 due deliveries, with {args.timers:,} timers not yet due vs none "
          f"({CLAIM_RUNS} claims each, in alternation; median / p99, rows read from the delivery table):")
    figures = [
        Figure("latency_p99", round(p99, 2), "ms", Comparison("commit_p99", round(_percentile(commits, 0.99), 2)),
               Target("below", TARGET_P99_MS),
               details={"latency_ms": {"p50": round(p50, 2), "p90": round(p90, 2), "max": round(lat[-1], 2)},
                        "commit_ms": {"p50": round(_percentile(commits, 0.5), 2)},
                        "published": r["published"], "handled": r["handled"], "sent_late": r["behind"],
                        "rate_per_s": round(r["rate"], 1)}),
    ]
    for key, name, label in [("stale_statistics", "claim_with_timers", "statistics from before the timers"),
                             ("analyzed", "claim_with_timers_analyzed", "after ANALYZE")]:
        t, b = claim[key]["timers"], claim[key]["bare"]
        print(f"  {label:<34} timers {t['median_ms']:.2f} / {t['p99_ms']:.2f} ms, {t['rows_read']} rows;"
              f"  bare {b['median_ms']:.2f} / {b['p99_ms']:.2f} ms, {b['rows_read']} rows")
        figures.append(Figure(name, t["median_ms"], "ms", Comparison("claim_bare", b["median_ms"]),
                              Target("below", TARGET_CLAIM_RATIO, of="ratio"),
                              details={"timers": args.timers, "claims": CLAIM_RUNS, "with_timers": t, "bare": b}))
    write_figures("events", figures, started=started, options=args)
    return 0 if r["handled"] == r["published"] else 1


if __name__ == "__main__":
    sys.exit(main())
