"""Wake-up: NOTIFY brings a delivery to its handler without waiting for a poll, and the listener survives losing its connection."""

from __future__ import annotations

import asyncio
import statistics
import time

from sqlalchemy import text

from shared.db import sessionmaker
from shared.events import Consumer, publish, run_consumers
from tests.events.support import Ping, quiet, wait_until

# Wake-ups are proved against a poll far longer than any wait here, each bound generous
# enough for a loaded machine: what arrives within BOUND did not wait for a poll.
POLL = 120.0
BOUND = 30.0


async def test_notify_brings_each_event_to_its_handler_long_before_the_next_poll(
    engine, database_url, ping_type, consumer_name, make_settings
):
    # A 120 s poll and a 30 s bound: an event that arrives at all came through NOTIFY. How
    # fast it comes is a benchmark's question (`tasks.py bench events`), not a test's.
    started: dict[int, float] = {}

    async def handle(session, event):
        started[event.payload.seq] = time.perf_counter()

    consumer = Consumer(consumer_name, {ping_type: handle})
    latencies: list[float] = []
    async with run_consumers(engine, database_url, [consumer], make_settings(events_poll_interval=POLL), cleanup_every=None):
        factory = sessionmaker(engine)
        for seq in range(10):
            async with factory() as session:
                await session.begin()
                await publish(session, type=ping_type, subject=f"s{seq}", payload=Ping(seq=seq), source="tests")
                committing = time.perf_counter()
                await session.commit()
            await wait_until(lambda: seq in started, timeout=BOUND, interval=0.001, what=f"event {seq}")
            latencies.append(started[seq] - committing)

    print(f"NOTIFY latency ms: median {statistics.median(latencies) * 1000:.2f}, max {max(latencies) * 1000:.2f}")


async def test_the_listener_reconnects_after_its_backend_is_terminated_and_notify_works_again(
    engine, database_url, ping_type, consumer_name, make_settings
):
    seen: list[int] = []

    async def handle(session, event):
        seen.append(event.payload.seq)

    consumer = Consumer(consumer_name, {ping_type: handle})
    async with run_consumers(engine, database_url, [consumer], make_settings(events_poll_interval=POLL), cleanup_every=None) as worker:
        listener = worker.listener
        first_pid = listener.backend_pid
        assert first_pid is not None
        async with engine.connect() as conn:
            app = (await conn.execute(text("SELECT application_name FROM pg_stat_activity WHERE pid = :p"), {"p": first_pid})).scalar()
            assert app == "sprout-events-listener"
            assert (await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first_pid})).scalar() is True

        await wait_until(
            lambda: listener.backend_pid not in (None, first_pid), timeout=BOUND, what="the listener to reconnect"
        )
        assert listener.reconnects == 1

        async with sessionmaker(engine)() as session, session.begin():
            await publish(session, type=ping_type, subject="s", payload=Ping(seq=1), source="tests")
        await wait_until(lambda: seen == [1], timeout=BOUND, what="delivery after the reconnect")


async def test_events_published_while_the_listener_is_down_are_caught_up_when_it_reconnects(
    engine, database_url, ping_type, consumer_name, make_settings
):
    seen: list[int] = []

    async def handle(session, event):
        seen.append(event.payload.seq)

    consumer = Consumer(consumer_name, {ping_type: handle})
    async with run_consumers(engine, database_url, [consumer], make_settings(events_poll_interval=POLL), cleanup_every=None) as worker:
        listener = worker.listener
        # One event through NOTIFY first, then wait for the loop to fall quiet: no claim in
        # flight (nor one a late wake-up starts) may happen to see the next event.
        async with sessionmaker(engine)() as session, session.begin():
            await publish(session, type=ping_type, subject="s", payload=Ping(seq=0), source="tests")
        await wait_until(lambda: seen == [0], timeout=BOUND, what="the first event")
        await quiet(consumer_name)
        # Hold the listener's reconnection until we let it go: a database that is briefly unreachable.
        reachable = asyncio.Event()
        connect = listener._connect

        async def held_connect():
            await reachable.wait()
            return await connect()

        listener._connect = held_connect
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": listener.backend_pid})
        await wait_until(lambda: not listener.connected.is_set(), timeout=BOUND, what="the listener to notice")

        async with sessionmaker(engine)() as session, session.begin():
            await publish(session, type=ping_type, subject="s", payload=Ping(seq=1), source="tests")
        await asyncio.sleep(0.3)
        assert seen == [0]  # its NOTIFY went nowhere, and the next poll is minutes away

        reachable.set()
        await wait_until(lambda: seen == [0, 1], timeout=BOUND, what="the catch-up claim after reconnecting")
