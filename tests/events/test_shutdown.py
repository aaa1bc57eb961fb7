"""Graceful stop: no new claims, the batch in hand finishes, and a stuck handler cannot hang the shutdown."""

from __future__ import annotations

import asyncio
import time

from shared.events import Consumer, register_subscriptions, run_consumers
from tests.events.support import delivery_counts, publish_pings, record_effect, rows, scalar


async def test_stopping_finishes_the_batch_in_hand_and_claims_no_more(
    engine, database_url, effects, ping_type, consumer_name, make_settings
):
    started = asyncio.Event()

    async def handle(session, event):
        started.set()
        await asyncio.sleep(0.3)
        await record_effect(session, consumer_name, event)

    consumer = Consumer(consumer_name, {ping_type: handle})
    await register_subscriptions(engine, [consumer])
    await publish_pings(engine, ping_type, [("a", 1), ("b", 2)])
    async with run_consumers(engine, database_url, [consumer], make_settings(events_batch_size=1), cleanup_every=None):
        await asyncio.wait_for(started.wait(), 30)
        # Leaving the block is the service shutting down, mid-handler.

    assert await delivery_counts(engine, consumer_name) == {"done": 1, "pending": 1}
    effects_ = await rows(engine, "SELECT seq FROM test_effects.effect WHERE consumer = :c", c=consumer_name)
    assert [r.seq for r in effects_] == [1]


async def test_a_stuck_handler_is_abandoned_after_the_stop_timeout_and_its_delivery_stays_owed_with_the_attempt_counted(
    engine, database_url, effects, ping_type, consumer_name, make_settings
):
    started = asyncio.Event()

    async def handle(session, event):
        await record_effect(session, consumer_name, event)
        started.set()
        await asyncio.Event().wait()  # never returns

    consumer = Consumer(consumer_name, {ping_type: handle})
    await register_subscriptions(engine, [consumer])
    await publish_pings(engine, ping_type, [("a", 1)])
    stopping = 0.0
    async with run_consumers(engine, database_url, [consumer], make_settings(), stop_timeout=0.3, cleanup_every=None):
        await asyncio.wait_for(started.wait(), 30)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 10  # a hang would be the whole suite's

    assert await delivery_counts(engine, consumer_name) == {"pending": 1}
    # Counted: a handler that hangs every process it runs in must run out of attempts too.
    assert await scalar(engine, "SELECT attempts FROM events.delivery WHERE consumer = :c", c=consumer_name) == 1
    assert await scalar(engine, "SELECT count(*) FROM test_effects.effect WHERE consumer = :c", c=consumer_name) == 0


async def test_shutdown_is_prompt_while_the_periodic_cleanup_keeps_running(
    engine, database_url, ping_type, consumer_name, make_settings
):
    consumer = Consumer(consumer_name, {ping_type: _ok})
    for cycle in range(15):
        started = time.monotonic()
        async with asyncio.timeout(10):  # a hang fails here instead of stalling the suite
            async with run_consumers(engine, database_url, [consumer], make_settings(), cleanup_every=0.01):
                await asyncio.sleep(0.01 * (cycle % 4))
        assert time.monotonic() - started < 5


async def _ok(session, event) -> None:
    return None
