"""Replicas: consumer processes share the work exactly once, survive SIGKILL, keep each subject in order, and mix releases."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import timedelta

from shared.db import sessionmaker
from shared import clock
from shared.events import Consumer, RetryPolicy, contracts, publish, register_subscriptions, run_consumers
from shared.events.worker import claim_due
from tests.events.support import (
    ConsumerProcess,
    Ping,
    bulk_publish_pings,
    delivery_counts,
    publish_pings,
    quiet,
    register_ping,
    rows,
    settled,
    unique,
    wait_until,
)


async def _effects(engine, consumer: str):
    return await rows(
        engine, "SELECT id, event_id, subject, seq, pid FROM test_effects.effect WHERE consumer = :c ORDER BY id", c=consumer
    )


async def _published_ids(engine, event_type: str) -> set:
    return {r.event_id for r in await rows(engine, "SELECT event_id FROM events.event WHERE type = :t", t=event_type)}


async def _attempts(engine, consumer: str) -> set[int]:
    return {r.attempts for r in await rows(engine, "SELECT DISTINCT attempts FROM events.delivery WHERE consumer = :c", c=consumer)}


async def test_two_consumer_processes_share_3000_events_with_none_lost_and_none_handled_twice(
    engine, database_url, effects, ping_type, consumer_name, workdir
):
    procs = [
        ConsumerProcess(workdir, db=database_url, consumer=consumer_name, event_type=ping_type, tag=f"replica{i}", batch=50)
        for i in range(2)
    ]
    try:
        await asyncio.gather(*(p.wait_ready() for p in procs))
        # Bulk setup (what `publish` writes, in one statement); the smaller tests go through `publish`.
        await bulk_publish_pings(engine, ping_type, [(f"student-{i % 500}", i) for i in range(3000)])
        await wait_until(lambda: settled(engine, consumer_name, {"done": 3000}), timeout=60, interval=0.1, what="3000 done")
        assert [await p.stop() for p in procs] == [0, 0], [p.output() for p in procs]
    finally:
        for p in procs:
            p.close()

    done = await _effects(engine, consumer_name)
    assert len(done) == 3000
    assert {r.event_id for r in done} == await _published_ids(engine, ping_type)  # each event exactly once
    assert await _attempts(engine, consumer_name) == {1}
    by_pid = defaultdict(int)
    for r in done:
        by_pid[r.pid] += 1
    assert set(by_pid) == {p.pid for p in procs}, dict(by_pid)
    print("events handled per replica:", dict(by_pid))


async def test_a_claim_is_its_replicas_for_its_lease_even_past_the_attempts_backoff(engine, ping_type, consumer_name):
    """A replica slowed down between its claim and its handling keeps what it claimed: another
    replica may take it over only once the lease has run out, as a crash's deliveries."""
    await register_subscriptions(engine, [Consumer(consumer_name, {ping_type: _never})])
    await publish_pings(engine, ping_type, [("student-1", 1), ("student-2", 2)])
    retry = RetryPolicy(max_attempts=3, base=0.05, cap=0.2, lease=10.0)
    claimed_at = clock.now()

    async def claim(after: float) -> list:
        async with engine.connect() as conn:
            found = await claim_due(
                conn, consumer=consumer_name, types=[ping_type], now=claimed_at + timedelta(seconds=after), limit=10, retry=retry
            )
            await conn.commit()
        return [(r.subject, r.attempt) for r in found if r.delivery_id is not None]

    assert await claim(0) == [("student-1", 1), ("student-2", 1)]
    assert await claim(1.0) == []  # five times the backoff's cap later: still the first claim's
    assert await claim(9.9) == []
    # Lapsed: taken over as an interrupted claim of two, so alone and not charged (see worker.py).
    assert await claim(10.1) == [("student-1", 1)]


async def test_a_consumer_killed_mid_batch_loses_nothing_and_duplicates_no_effect(
    engine, database_url, effects, ping_type, consumer_name, workdir
):
    await register_subscriptions(engine, [Consumer(consumer_name, {ping_type: _never})])
    await publish_pings(engine, ping_type, [(f"student-{i}", i) for i in range(60)])
    invocations = workdir / "invocations.log"

    victim = ConsumerProcess(
        workdir, db=database_url, consumer=consumer_name, event_type=ping_type, tag="victim",
        batch=10, sleep=0.05, invocations=invocations, lease=0.5,
    )
    try:
        await victim.wait_ready()
        # Ten handlers per batch, 50 ms each: at 15 started, the second batch is half done.
        await wait_until(lambda: _lines(invocations) >= 15, timeout=20, interval=0.005, what="15 handler starts")
        victim.kill()
    finally:
        victim.close()

    invoked = {line for line in invocations.read_text().split()}
    committed = {str(r.event_id) for r in await _effects(engine, consumer_name)}
    assert committed < invoked, "the kill should have caught a batch in its handlers"
    assert len(committed) % 10 == 0  # whole batches only: nothing of the one in hand
    assert await settled(engine, consumer_name, {"done": len(committed), "pending": 60 - len(committed)})

    successor = ConsumerProcess(
        workdir, db=database_url, consumer=consumer_name, event_type=ping_type, tag="successor", lease=0.5
    )
    try:
        await successor.wait_ready()
        await wait_until(lambda: settled(engine, consumer_name, {"done": 60}), timeout=20, interval=0.05, what="60 done")
        assert await successor.stop() == 0
    finally:
        successor.close()

    done = await _effects(engine, consumer_name)
    assert len(done) == 60
    assert {r.event_id for r in done} == await _published_ids(engine, ping_type)
    assert {r.pid for r in done if str(r.event_id) in invoked - committed} == {successor.pid}
    # The killed attempt left no trace: every delivery took one (committed) attempt.
    assert await _attempts(engine, consumer_name) == {1}


async def test_each_subject_is_handled_in_order_with_two_replicas(
    engine, database_url, effects, ping_type, consumer_name, workdir
):
    procs = [
        ConsumerProcess(
            workdir, db=database_url, consumer=consumer_name, event_type=ping_type, tag=f"replica{i}",
            batch=5, jitter=0.002,
        )
        for i in range(2)
    ]
    subjects = [f"student-{n}" for n in range(20)]
    try:
        await asyncio.gather(*(p.wait_ready() for p in procs))
        await publish_pings(engine, ping_type, _interleaved(subjects, per_subject=50), chunk=250)
        await wait_until(lambda: settled(engine, consumer_name, {"done": 1000}), timeout=60, interval=0.1, what="1000 done")
        assert [await p.stop() for p in procs] == [0, 0]
    finally:
        for p in procs:
            p.close()

    done = await _effects(engine, consumer_name)  # in the order the handlers wrote them
    assert len(done) == 1000 == len({r.event_id for r in done})
    shared_subjects = 0
    for subject in subjects:
        mine = [r for r in done if r.subject == subject]
        assert [r.seq for r in mine] == list(range(50)), subject
        shared_subjects += len({r.pid for r in mine}) == 2
    # The replicas really did compete for the same subjects, so the order was put to the test.
    assert shared_subjects > 0
    print(f"subjects handled by both replicas: {shared_subjects}/20")


def _interleaved(subjects: list[str], *, per_subject: int) -> list[tuple[str, int]]:
    """Each subject's events in sequence, subjects mixed at random with short runs of one subject,
    so that neighbouring deliveries often share a subject and two replicas would race for them."""
    rng = random.Random(1128)
    next_seq = dict.fromkeys(subjects, 0)
    items: list[tuple[str, int]] = []
    current = rng.choice(subjects)
    while len(items) < per_subject * len(subjects):
        if next_seq[current] == per_subject or rng.random() < 0.4:
            current = rng.choice([s for s in subjects if next_seq[s] < per_subject])
        items.append((current, next_seq[current]))
        next_seq[current] += 1
    return items


def _lines(path) -> int:
    return len(path.read_text().split()) if path.exists() else 0


async def _never(session, event) -> None:
    raise AssertionError("only the consumer processes handle these")


async def test_in_a_rolling_release_an_old_replica_leaves_a_new_event_type_and_its_subject_to_the_new_replicas(
    engine, database_url, ping_type, consumer_name, make_settings
):
    new_type = unique("test.added")
    register_ping(new_type)
    try:
        handled: list[tuple[str, str, int, int]] = []  # replica, subject, seq, attempt

        def recorder(replica: str):
            async def handle(session, event):
                handled.append((replica, event.subject, event.payload.seq, event.attempt))
            return handle

        old = Consumer(consumer_name, {ping_type: recorder("old")})
        new = Consumer(consumer_name, {ping_type: recorder("new"), new_type: recorder("new")})
        await register_subscriptions(engine, [new])  # the new release's `sprout migrate`
        async with sessionmaker(engine)() as session, session.begin():
            for subject, event_type, seq in [("student-1", new_type, 1), ("student-1", ping_type, 2), ("student-2", ping_type, 3)]:
                await publish(session, type=event_type, subject=subject, payload=Ping(seq=seq), source="tests")

        async with run_consumers(engine, database_url, [old], make_settings(), cleanup_every=None):
            await wait_until(lambda: settled(engine, consumer_name, {"done": 1, "pending": 2}), timeout=30, what="student-2")
            await quiet(consumer_name)
        # The old replica handled what it knows and left student-1 alone: the new type is not
        # its to fail, and student-1's later event of a known type waits behind it.
        assert handled == [("old", "student-2", 3, 1)]
        untouched = await rows(
            engine, "SELECT attempts, last_error FROM events.delivery WHERE consumer = :c AND status = 'pending'",
            c=consumer_name,
        )
        assert [tuple(r) for r in untouched] == [(0, None), (0, None)]

        # Both releases running side by side, as mid-rollout.
        settings = make_settings()
        async with run_consumers(engine, database_url, [old], settings, cleanup_every=None), \
                run_consumers(engine, database_url, [new], settings, cleanup_every=None):
            await wait_until(lambda: settled(engine, consumer_name, {"done": 3}), timeout=30, what="student-1")
        student_1 = [(replica, seq, attempt) for replica, subject, seq, attempt in handled if subject == "student-1"]
        assert student_1[0] == ("new", 1, 1)
        assert [seq for _, seq, _ in student_1] == [1, 2]
        assert await delivery_counts(engine, consumer_name) == {"done": 3}
    finally:
        contracts.unregister(new_type, 1)
