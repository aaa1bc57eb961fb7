"""Operating the bus: cleanup, stats, and the subscriptions `sprout migrate` registers."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from sqlalchemy import text

from services import cli
from shared import clock
from shared.clock import FrozenClock, use_clock
from shared.events import Consumer, admin, contracts, publish, register_subscriptions, run_consumers
from shared.events.worker import load_consumers
from shared.db import sessionmaker
from tests.events.support import Ping, delivery_counts, register_ping, scalar, settled, unique, wait_until


async def _ok(session, event) -> None:
    return None


async def _fail(session, event) -> None:
    raise RuntimeError("never works")


async def test_cleanup_removes_old_done_deliveries_and_fully_delivered_events_but_not_pending_or_dead_ones(
    engine, database_url, ping_type, make_settings, monkeypatch, capsys
):
    only_done_type = unique("test.solo")
    register_ping(only_done_type)
    try:
        done = Consumer(unique("done"), {ping_type: _ok, only_done_type: _ok})
        dead = Consumer(unique("dead"), {ping_type: _fail})
        down = Consumer(unique("down"), {ping_type: _ok})  # never runs: its deliveries stay pending
        await register_subscriptions(engine, [done, dead, down])
        async with sessionmaker(engine)() as session, session.begin():
            shared_event = await publish(session, type=ping_type, subject="s", payload=Ping(), source="tests")
            solo_event = await publish(session, type=only_done_type, subject="s", payload=Ping(), source="tests")

        settings = make_settings(events_max_attempts=1)
        async with run_consumers(engine, database_url, [done, dead], settings, cleanup_every=None):
            await wait_until(lambda: settled(engine, done.name, {"done": 2}), timeout=30, what="done")
            await wait_until(lambda: settled(engine, dead.name, {"dead": 1}), timeout=30, what="dead")

        monkeypatch.setenv("SPROUT_DATABASE_URL", database_url)
        assert await asyncio.to_thread(cli.main, ["events", "stats"]) == 0
        stats = json.loads(capsys.readouterr().out)  # what `sprout events stats` prints
        assert stats["consumers"][done.name] == {
            "pending": 0, "due": 0, "held": 0, "done": 2, "dead": 0, "discarded": 0, "oldest_due_seconds": None
        }
        assert stats["consumers"][down.name]["pending"] == stats["consumers"][down.name]["due"] == 1
        assert stats["subscriptions"][done.name] == sorted([ping_type, only_done_type])

        # Within the retention nothing of ours goes.
        await admin.cleanup(database_url, older_than_days=14)
        assert await delivery_counts(engine, done.name) == {"done": 2}

        # Fifteen days on, `sprout events cleanup` (default retention: 14 days) removes the finished work.
        with use_clock(FrozenClock(clock.now() + timedelta(days=15))):
            assert await asyncio.to_thread(cli.main, ["events", "cleanup"]) == 0
        assert "removed" in capsys.readouterr().out

        assert await delivery_counts(engine, done.name) == {}
        assert await delivery_counts(engine, dead.name) == {"dead": 1}
        assert await delivery_counts(engine, down.name) == {"pending": 1}
        assert await _event_exists(engine, shared_event.id)  # still owed to `down`, and dead for `dead`
        assert not await _event_exists(engine, solo_event.id)  # delivered to everyone who wanted it
    finally:
        contracts.unregister(only_done_type, 1)


async def test_the_worker_cleans_up_periodically_and_only_one_replica_at_a_time(
    engine, database_url, ping_type, consumer_name, make_settings
):
    consumer = Consumer(consumer_name, {ping_type: _ok})
    await register_subscriptions(engine, [consumer])
    async with sessionmaker(engine)() as session, session.begin():
        event = await publish(session, type=ping_type, subject="s", payload=Ping(), source="tests")
    async with run_consumers(engine, database_url, [consumer], make_settings(), cleanup_every=None):
        await wait_until(lambda: settled(engine, consumer_name, {"done": 1}), timeout=30, what="done")

    with use_clock(FrozenClock(clock.now() + timedelta(days=30))):
        # Another replica holds the cleanup lock: this one skips its turn.
        async with engine.connect() as other:
            await other.execute(text("SELECT pg_advisory_lock(:id)"), {"id": admin.CLEANUP_LOCK_ID})
            assert await admin.purge_if_leader(engine, older_than_days=14) is None
            await other.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": admin.CLEANUP_LOCK_ID})
            await other.commit()
        assert await delivery_counts(engine, consumer_name) == {"done": 1}

        async with run_consumers(engine, database_url, [consumer], make_settings(), cleanup_every=0.2):
            await wait_until(lambda: settled(engine, consumer_name, {}), timeout=30, what="the periodic cleanup")
    assert not await _event_exists(engine, event.id)


async def _event_exists(engine, event_id: int) -> bool:
    return bool(await scalar(engine, "SELECT count(*) FROM events.event WHERE id = :id", id=event_id))


async def test_sprout_migrate_registers_every_services_subscriptions(database_url, monkeypatch):
    monkeypatch.setenv("SPROUT_DATABASE_URL", database_url)
    assert await asyncio.to_thread(cli.main, ["migrate"]) == 0
    declared = load_consumers(s.consumers for s in cli.SERVICES.values())
    stats = await admin.stats(database_url)
    for consumer in declared:
        assert stats["subscriptions"].get(consumer.name) == consumer.event_types
