"""Timers: an event with a future `available_at` waits for the (injected) clock, and blocks nothing meanwhile, not even the claim."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from shared import clock
from shared.clock import FrozenClock, use_clock
from shared.db import sessionmaker
from sqlalchemy import text

from shared.events import Consumer, RetryPolicy, publish, register_subscriptions, run_consumers
from shared.events.worker import claim_due
from tests.events.support import Ping, bulk_publish_pings, claims, delivery_counts, delivery_rows_read, wait_until

# Wake-ups are proved against a poll far longer than any wait here (see test_wakeup.py).
POLL = 120.0
BOUND = 30.0


async def test_a_timer_waits_for_the_test_clock_and_is_delivered_once_it_passes(
    engine, database_url, ping_type, consumer_name, make_settings
):
    frozen = FrozenClock()
    seen: list[tuple[int, object]] = []

    async def handle(session, event):
        seen.append((event.payload.seq, clock.now()))

    consumer = Consumer(consumer_name, {ping_type: handle})
    with use_clock(frozen):
        async with run_consumers(engine, database_url, [consumer], make_settings(events_poll_interval=POLL), cleanup_every=None):
            published_at = frozen.now()
            claim_window_ends = published_at + timedelta(hours=24)
            async with sessionmaker(engine)() as session, session.begin():
                timer = await publish(
                    session, type=ping_type, subject="offer-1", payload=Ping(seq=1), source="tests",
                    available_at=claim_window_ends,
                )
                await publish(session, type=ping_type, subject="offer-1", payload=Ping(seq=2), source="tests")
            assert timer.occurred_at == published_at

            # The later, immediate event of the same subject is not held back by the pending timer.
            await wait_until(lambda: [s for s, _ in seen] == [2], timeout=BOUND, what="the immediate event")

            before = claims(consumer_name)
            frozen.advance(hours=23, minutes=59)
            # Moving the clock wakes the loop, and a claim counted after the move reads the new time.
            await wait_until(lambda: claims(consumer_name) > before, timeout=BOUND, what="a claim after the move")
            await asyncio.sleep(0.2)  # let that claim finish
            assert [s for s, _ in seen] == [2]
            assert await delivery_counts(engine, consumer_name) == {"done": 1, "pending": 1}

            frozen.advance(minutes=1)
            # Well inside the poll: the clock move itself wakes the loop.
            await wait_until(lambda: len(seen) == 2, timeout=BOUND, what="the timer")

    assert seen[1] == (1, claim_window_ends)
    assert await delivery_counts(engine, consumer_name) == {"done": 2}


async def test_a_timer_on_the_real_clock_wakes_the_consumer_when_due_not_at_the_next_poll(
    engine, database_url, ping_type, consumer_name, make_settings
):
    delivered: list[object] = []

    async def handle(session, event):
        delivered.append(clock.now())

    consumer = Consumer(consumer_name, {ping_type: handle})
    async with run_consumers(engine, database_url, [consumer], make_settings(events_poll_interval=POLL), cleanup_every=None):
        due = clock.now() + timedelta(seconds=0.4)
        async with sessionmaker(engine)() as session, session.begin():
            await publish(session, type=ping_type, subject="s", payload=Ping(), source="tests", available_at=due)
        # Within BOUND, long before the poll: the loop slept until the timer's own time.
        await wait_until(lambda: bool(delivered), timeout=BOUND, what="the timer")

    assert delivered[0] >= due  # never early, on the clock the worker reads


_FUTURE_TIMERS = text(
    """
    WITH e AS (
        INSERT INTO events.event (event_id, type, version, source, subject, payload, occurred_at)
        SELECT gen_random_uuid(), :type, 1, 'tests', 'student-' || (g % 5000), jsonb_build_object('seq', g), :now
        FROM generate_series(1, :n) g
        RETURNING id, subject
    )
    INSERT INTO events.delivery (consumer, event_id, subject, available_at)
    SELECT :consumer, e.id, e.subject, :now + make_interval(days => 1 + (e.id % 30)::int) FROM e
    """
)


# Work owed to 300 other consumers (none of them runs here): statistics that know many
# consumers, under which one they have never seen looks like it has nothing to do.
_OTHER_CONSUMERS_OWED = text(
    """
    WITH e AS (
        INSERT INTO events.event (event_id, type, version, source, subject, payload, occurred_at)
        SELECT gen_random_uuid(), :type, 1, 'tests', 'student-' || g, jsonb_build_object('seq', g), :now
        FROM generate_series(1, 900) g
        RETURNING id, subject
    )
    INSERT INTO events.delivery (consumer, event_id, subject, available_at)
    SELECT :consumer || '_other_' || (e.id % 300), e.id, e.subject, :now FROM e
    """
)


async def test_a_claim_never_reads_the_timers_that_are_not_due_however_many_wait(engine, ping_type, consumer_name):
    # Seat-offer windows, objection windows, evaluations due: 20,000 timers days ahead, and
    # five deliveries due now. (The benchmark measures the claim with 100,000.)
    consumer = Consumer(consumer_name, {ping_type: _noop})
    await register_subscriptions(engine, [consumer])
    async with engine.begin() as conn:
        # Statistics from before this consumer had a row, as when autovacuum lags behind: the
        # planner believes it has nothing pending, and left to costs it read every timer.
        await conn.execute(_OTHER_CONSUMERS_OWED, {"type": ping_type, "consumer": consumer_name, "now": clock.now()})
        await conn.execute(text("ANALYZE events.delivery"))
        await conn.execute(_FUTURE_TIMERS, {"type": ping_type, "consumer": consumer_name, "now": clock.now(), "n": 20_000})
    await bulk_publish_pings(engine, ping_type, [(f"due-{i}", i) for i in range(5)])
    try:
        for statistics in ("stale", "fresh"):
            async with engine.connect() as conn:
                if statistics == "fresh":
                    await conn.execute(text("ANALYZE events.delivery"))
                    await conn.commit()
                # Seven claims on one connection, each rolled back: past the fifth, PostgreSQL
                # may switch to a generic plan, which must hold up as well.
                for claim in range(7):
                    async with conn.begin():
                        before = await delivery_rows_read(conn)
                        found = await claim_due(
                            conn, consumer=consumer_name, types=consumer.event_types, now=clock.now(), limit=32,
                            retry=RetryPolicy(max_attempts=3, base=1.0, cap=10.0),
                        )
                        read = await delivery_rows_read(conn) - before
                        await conn.rollback()
                    assert sorted(r.subject for r in found if r.delivery_id) == [f"due-{i}" for i in range(5)]
                    assert read < 100, (statistics, claim, read)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM events.event WHERE type = :t"), {"t": ping_type})


async def _noop(session, event) -> None:
    return None
