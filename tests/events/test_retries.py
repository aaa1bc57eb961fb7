"""Failures: a handler that raises is retried with backoff, dead-lettered after the limit, listed, replayed or discarded.

A dead delivery holds the later deliveries of its subject, so the tests prove a hold by a
later event of another subject going through meanwhile: the consumer was claiming, and
passed the held one by.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from datetime import datetime, timedelta

from sqlalchemy import text

from services import cli
from shared import clock
from shared.clock import FrozenClock, use_clock
from shared.events import Consumer, RetryPolicy, admin, register_subscriptions, run_consumers
from tests.events.support import ROOT, delivery_counts, publish_pings, record_effect, rows, scalar, settled, wait_until

SPROUT = Path(sys.executable).parent / "sprout"


def _sprout(database_url: str, *args: str) -> subprocess.CompletedProcess:
    """The real `sprout` command, as ops would run it."""
    env = {**os.environ, "SPROUT_DATABASE_URL": database_url}
    return subprocess.run([str(SPROUT), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


async def test_a_failing_handler_backs_off_dies_is_listed_by_ops_and_replay_delivers_it(
    engine, database_url, effects, ping_type, consumer_name, make_settings, monkeypatch, capsys
):
    starts: list[tuple[int, datetime]] = []
    failing = True

    async def handle(session, event):
        starts.append((event.attempt, clock.now()))
        await record_effect(session, consumer_name, event)  # must not survive a failed attempt
        if failing:
            raise RuntimeError("the seat register is closed")

    settings = make_settings(events_max_attempts=3, events_backoff_base=0.1, events_backoff_max=1.0)
    consumer = Consumer(consumer_name, {ping_type: handle})
    async with run_consumers(engine, database_url, [consumer], settings, cleanup_every=None):
        await publish_pings(engine, ping_type, [("student-1", 7)])
        await wait_until(lambda: settled(engine, consumer_name, {"dead": 1}), timeout=30, what="the dead letter")

        assert [attempt for attempt, _ in starts] == [1, 2, 3]
        # Equal jitter: after failed attempt k the wait is at least base * 2**(k-1) / 2. Read on
        # the clock the worker compares `available_at` with, so no scheduling delay can blur it.
        gaps = [(b - a).total_seconds() for (_, a), (_, b) in zip(starts, starts[1:])]
        assert gaps[0] >= 0.05 and gaps[1] >= 0.1, gaps
        assert await scalar(engine, "SELECT count(*) FROM test_effects.effect WHERE consumer = :c", c=consumer_name) == 0

        dead = await admin.list_dead(database_url, consumer=consumer_name)
        assert len(dead) == 1
        letter = dead[0]
        assert (letter["consumer"], letter["type"], letter["subject"], letter["attempts"]) == (
            consumer_name, ping_type, "student-1", 3
        )
        assert letter["last_error"] == "RuntimeError: the seat register is closed"
        assert letter["payload"] == {"seq": 7, "note": ""}

        # `sprout events dead`, in-process (it runs its own event loop, hence the thread)...
        monkeypatch.setenv("SPROUT_DATABASE_URL", database_url)
        assert await asyncio.to_thread(cli.main, ["events", "dead", "--consumer", consumer_name, "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert [d["delivery_id"] for d in listed] == [letter["delivery_id"]]
        # ...and as the real command.
        shown = await asyncio.to_thread(_sprout, database_url, "events", "dead", "--consumer", consumer_name)
        assert shown.returncode == 0, shown.stderr
        assert str(letter["delivery_id"]) in shown.stdout and consumer_name in shown.stdout
        assert "the seat register is closed" in shown.stdout

        failing = False
        replayed = await asyncio.to_thread(_sprout, database_url, "events", "replay", str(letter["delivery_id"]))
        assert replayed.returncode == 0, replayed.stderr
        assert "1 dead deliveries queued again" in replayed.stdout
        await wait_until(lambda: settled(engine, consumer_name, {"done": 1}), timeout=30, what="the replayed delivery")

    assert starts[-1][0] == 1  # replay grants a fresh attempt budget
    assert await scalar(engine, "SELECT count(*) FROM test_effects.effect WHERE consumer = :c", c=consumer_name) == 1
    assert await admin.list_dead(database_url, consumer=consumer_name) == []


async def test_one_failing_handler_does_not_undo_the_rest_of_its_batch_and_holds_back_its_subject(
    engine, database_url, effects, ping_type, consumer_name, make_settings
):
    calls: list[tuple[str, int, int, int]] = []  # subject, seq, attempt, transaction id

    async def handle(session, event):
        txid = (await session.execute(text("SELECT txid_current()"))).scalar()
        calls.append((event.subject, event.payload.seq, event.attempt, txid))
        await record_effect(session, consumer_name, event)
        if event.payload.seq == 1:
            raise ValueError("bad seq")

    consumer = Consumer(consumer_name, {ping_type: handle})
    settings = make_settings(events_max_attempts=2, events_backoff_base=0.05, events_backoff_max=0.05)
    await register_subscriptions(engine, [consumer])
    await publish_pings(engine, ping_type, [("a", 0), ("b", 1), ("c", 2), ("b", 3)])
    async with run_consumers(engine, database_url, [consumer], settings, cleanup_every=None):
        await wait_until(
            lambda: settled(engine, consumer_name, {"done": 2, "dead": 1, "pending": 1}), timeout=30, what="settling"
        )
        await publish_pings(engine, ping_type, [("d", 4)])
        await wait_until(
            lambda: settled(engine, consumer_name, {"done": 3, "dead": 1, "pending": 1}), timeout=30, what="d:4"
        )

    first_batch = [c for c in calls if c[3] == calls[0][3]]
    # a:0, b:1 (fails) and c:2 ran in one transaction; b:3 waits behind b:1, retried, then dead.
    assert [(s, n) for s, n, _, _ in first_batch] == [("a", 0), ("b", 1), ("c", 2)]
    b_calls = [(n, attempt) for s, n, attempt, _ in calls if s == "b"]
    assert b_calls == [(1, 1), (1, 2)]
    assert await _status_of(engine, consumer_name, 3) == ("pending", 0)
    effects_ = await rows(engine, "SELECT seq FROM test_effects.effect WHERE consumer = :c ORDER BY seq", c=consumer_name)
    assert [r.seq for r in effects_] == [0, 2, 4]


def test_backoff_grows_exponentially_with_jitter_up_to_its_cap():
    policy = RetryPolicy(max_attempts=8, base=1.0, cap=60.0)
    for attempt, full in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (30, 60.0)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays), (attempt, min(delays), max(delays))
        assert max(delays) - min(delays) > 0  # jittered, so replicas do not retry in lockstep


async def _status_of(engine, consumer: str, seq: int) -> tuple[str, int]:
    """The status and attempts of `consumer`'s delivery of the event with sequence number `seq`."""
    [row] = await rows(
        engine,
        """
        SELECT d.status::text AS status, d.attempts FROM events.delivery d JOIN events.event e ON e.id = d.event_id
        WHERE d.consumer = :c AND (e.payload ->> 'seq')::int = :seq
        """,
        c=consumer, seq=seq,
    )
    return row.status, row.attempts


async def _delivery_id(engine, consumer: str, seq: int) -> int:
    return await scalar(
        engine,
        """
        SELECT d.id FROM events.delivery d JOIN events.event e ON e.id = d.event_id
        WHERE d.consumer = :c AND (e.payload ->> 'seq')::int = :seq
        """,
        c=consumer, seq=seq,
    )


async def test_a_dead_admission_holds_the_students_exit_until_ops_replays_it_and_then_both_arrive_in_order(
    engine, database_url, ping_type, consumer_name, make_settings, monkeypatch, capsys
):
    # seq 1 is student-1's "admitted", seq 2 their "exited": a tracking read model must never
    # see the exit of a student it never saw admitted.
    seen: list[tuple[str, int, int]] = []
    failing = True

    async def handle(session, event):
        seen.append((event.subject, event.payload.seq, event.attempt))
        if failing and event.payload.seq == 1:
            raise RuntimeError("the enrolment register is locked")

    consumer = Consumer(consumer_name, {ping_type: handle})
    await register_subscriptions(engine, [consumer])
    await publish_pings(engine, ping_type, [("student-1", 1), ("student-1", 2), ("student-2", 3)])
    settings = make_settings(events_max_attempts=2, events_backoff_base=0.05, events_backoff_max=0.05)
    async with run_consumers(engine, database_url, [consumer], settings, cleanup_every=None):
        await wait_until(
            lambda: settled(engine, consumer_name, {"done": 1, "dead": 1, "pending": 1}), timeout=30, what="the dead letter"
        )
        await publish_pings(engine, ping_type, [("student-2", 4)])
        await wait_until(lambda: settled(engine, consumer_name, {"done": 2, "dead": 1, "pending": 1}), timeout=30, what="4")
        assert await _status_of(engine, consumer_name, 2) == ("pending", 0)  # held, never tried

        # What ops sees: the dead letter, and what waits behind it.
        [letter] = await admin.list_dead(database_url, consumer=consumer_name)
        assert (letter["subject"], letter["held"]) == ("student-1", 1)
        assert (await admin.stats(database_url))["consumers"][consumer_name]["held"] == 1
        shown = await asyncio.to_thread(_sprout, database_url, "events", "dead", "--consumer", consumer_name)
        assert shown.returncode == 0, shown.stderr
        assert "subject=student-1 held=1 attempts=2" in shown.stdout

        failing = False
        replayed = await asyncio.to_thread(_sprout, database_url, "events", "replay", str(letter["delivery_id"]))
        assert replayed.returncode == 0, replayed.stderr
        await wait_until(lambda: settled(engine, consumer_name, {"done": 4}), timeout=30, what="the replay")

    assert [(n, attempt) for s, n, attempt in seen if s == "student-1"] == [(1, 1), (1, 2), (1, 1), (2, 1)]
    assert (await admin.stats(database_url))["consumers"][consumer_name]["held"] == 0


async def test_ops_can_discard_a_dead_delivery_on_purpose_and_the_ones_it_held_go_on(
    engine, database_url, effects, ping_type, consumer_name, make_settings
):
    async def handle(session, event):
        await record_effect(session, consumer_name, event)
        if event.payload.seq == 1:
            raise RuntimeError("a payload this release cannot read")

    consumer = Consumer(consumer_name, {ping_type: handle})
    await register_subscriptions(engine, [consumer])
    await publish_pings(engine, ping_type, [("student-1", 1), ("student-1", 2)])
    dead_id = await _delivery_id(engine, consumer_name, 1)
    held_id = await _delivery_id(engine, consumer_name, 2)
    async with run_consumers(engine, database_url, [consumer], make_settings(events_max_attempts=1), cleanup_every=None):
        await wait_until(lambda: settled(engine, consumer_name, {"dead": 1, "pending": 1}), timeout=30, what="dead")

        # Only dead deliveries, and only those named: not a pending one, not one that does not exist.
        assert await admin.discard(database_url, delivery_ids=[held_id, 10**15]) == 0
        assert await admin.discard(database_url, delivery_ids=[]) == 0
        no_ids = await asyncio.to_thread(_sprout, database_url, "events", "discard")
        assert no_ids.returncode == 2 and "ids" in no_ids.stderr
        assert await delivery_counts(engine, consumer_name) == {"dead": 1, "pending": 1}

        discarded = await asyncio.to_thread(_sprout, database_url, "events", "discard", str(dead_id))
        assert discarded.returncode == 0, discarded.stderr
        assert "1 dead deliveries discarded" in discarded.stdout
        await wait_until(lambda: settled(engine, consumer_name, {"discarded": 1, "done": 1}), timeout=30, what="2")

    effects_ = await rows(engine, "SELECT seq FROM test_effects.effect WHERE consumer = :c", c=consumer_name)
    assert [r.seq for r in effects_] == [2]  # the discarded one never took effect
    assert await admin.list_dead(database_url, consumer=consumer_name) == []
    assert await admin.replay(database_url, delivery_ids=[dead_id]) == 0  # discarded is final
    stats = (await admin.stats(database_url))["consumers"][consumer_name]
    assert (stats["discarded"], stats["dead"], stats["held"]) == (1, 0, 0)
    # Kept for the retention, like a done one, then cleaned up.
    await admin.cleanup(database_url, older_than_days=14)
    assert await delivery_counts(engine, consumer_name) == {"discarded": 1, "done": 1}
    with use_clock(FrozenClock(clock.now() + timedelta(days=15))):
        await admin.cleanup(database_url, older_than_days=14)
    assert await delivery_counts(engine, consumer_name) == {}
