"""Timers: an event with a future `available_at` waits for the (injected) clock, and blocks nothing meanwhile."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from prometheus_client import REGISTRY

from shared import clock
from shared.clock import FrozenClock, use_clock
from shared.db import sessionmaker
from shared.events import Consumer, publish, run_consumers
from tests.events.support import Ping, delivery_counts, wait_until


def _claims(consumer: str) -> float:
    return REGISTRY.get_sample_value("sprout_events_claims_total", {"consumer": consumer}) or 0.0


async def test_a_timer_waits_for_the_test_clock_and_is_delivered_once_it_passes(
    engine, database_url, ping_type, consumer_name, make_settings
):
    frozen = FrozenClock()
    seen: list[tuple[int, object]] = []

    async def handle(session, event):
        seen.append((event.payload.seq, clock.now()))

    consumer = Consumer(consumer_name, {ping_type: handle})
    with use_clock(frozen):
        async with run_consumers(engine, database_url, [consumer], make_settings(events_poll_interval=5.0), cleanup_every=None):
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
            await wait_until(lambda: [s for s, _ in seen] == [2], timeout=3, what="the immediate event")

            before = _claims(consumer_name)
            frozen.advance(hours=23, minutes=59)
            # Moving the clock wakes the loop, and a claim counted after the move reads the new time.
            await wait_until(lambda: _claims(consumer_name) > before, timeout=3, what="a claim after the move")
            await asyncio.sleep(0.2)  # let that claim finish
            assert [s for s, _ in seen] == [2]
            assert await delivery_counts(engine, consumer_name) == {"done": 1, "pending": 1}

            frozen.advance(minutes=1)
            # Well inside the 5 s poll: the clock move itself wakes the loop.
            await wait_until(lambda: len(seen) == 2, timeout=3, what="the timer")

    assert seen[1] == (1, claim_window_ends)
    assert await delivery_counts(engine, consumer_name) == {"done": 2}


async def test_a_timer_on_the_real_clock_wakes_the_consumer_when_due_not_at_the_next_poll(
    engine, database_url, ping_type, consumer_name, make_settings
):
    delivered: list[float] = []

    async def handle(session, event):
        delivered.append(time.monotonic())

    consumer = Consumer(consumer_name, {ping_type: handle})
    async with run_consumers(engine, database_url, [consumer], make_settings(events_poll_interval=30.0), cleanup_every=None):
        async with sessionmaker(engine)() as session, session.begin():
            await publish(
                session, type=ping_type, subject="s", payload=Ping(), source="tests",
                available_at=clock.now() + timedelta(seconds=0.4),
            )
        committed = time.monotonic()
        await wait_until(lambda: bool(delivered), timeout=5, what="the timer")

    waited = delivered[0] - committed
    assert 0.35 <= waited < 5, waited
