"""Wake-up: NOTIFY brings a delivery to its handler at once, and the listener survives losing its connection."""

from __future__ import annotations

import asyncio
import statistics
import time

from prometheus_client import REGISTRY
from sqlalchemy import text

from shared.db import sessionmaker
from shared.events import Consumer, publish, run_consumers
from tests.events.support import Ping, wait_until


async def test_notify_delivers_within_100_ms_while_polling_is_every_5_s(
    engine, database_url, ping_type, consumer_name, make_settings
):
    started: dict[int, float] = {}

    async def handle(session, event):
        started[event.payload.seq] = time.perf_counter()

    consumer = Consumer(consumer_name, {ping_type: handle})
    latencies: list[float] = []
    async with run_consumers(engine, database_url, [consumer], make_settings(events_poll_interval=5.0), cleanup_every=None):
        factory = sessionmaker(engine)
        # Sample 0 warms up (the pool's connections, prepared statements); the bound is for 1..10.
        for seq in range(11):
            async with factory() as session:
                await session.begin()
                await publish(session, type=ping_type, subject=f"s{seq}", payload=Ping(seq=seq), source="tests")
                committing = time.perf_counter()  # measured from before COMMIT: the bound includes it
                await session.commit()
            await wait_until(lambda: seq in started, timeout=6, interval=0.001, what=f"event {seq}")
            if seq:
                latencies.append(started[seq] - committing)

    print(f"NOTIFY latency ms: median {statistics.median(latencies) * 1000:.2f}, max {max(latencies) * 1000:.2f}")
    assert max(latencies) < 0.100, [round(x * 1000, 2) for x in latencies]


async def test_the_listener_reconnects_after_its_backend_is_terminated_and_notify_works_again(
    engine, database_url, ping_type, consumer_name, make_settings
):
    seen: list[int] = []

    async def handle(session, event):
        seen.append(event.payload.seq)

    consumer = Consumer(consumer_name, {ping_type: handle})
    # A 30 s poll: anything delivered sooner came through NOTIFY.
    async with run_consumers(engine, database_url, [consumer], make_settings(events_poll_interval=30.0), cleanup_every=None) as worker:
        listener = worker.listener
        first_pid = listener.backend_pid
        assert first_pid is not None
        async with engine.connect() as conn:
            app = (await conn.execute(text("SELECT application_name FROM pg_stat_activity WHERE pid = :p"), {"p": first_pid})).scalar()
            assert app == "sprout-events-listener"
            assert (await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first_pid})).scalar() is True

        await wait_until(
            lambda: listener.backend_pid not in (None, first_pid), timeout=5, what="the listener to reconnect"
        )
        assert listener.reconnects == 1

        async with sessionmaker(engine)() as session, session.begin():
            await publish(session, type=ping_type, subject="s", payload=Ping(seq=1), source="tests")
        committed = time.monotonic()
        await wait_until(lambda: seen == [1], timeout=5, what="delivery after the reconnect")
        assert time.monotonic() - committed < 2.0


async def test_events_published_while_the_listener_is_down_are_caught_up_when_it_reconnects(
    engine, database_url, ping_type, consumer_name, make_settings
):
    seen: list[int] = []

    async def handle(session, event):
        seen.append(event.payload.seq)

    consumer = Consumer(consumer_name, {ping_type: handle})
    async with run_consumers(engine, database_url, [consumer], make_settings(events_poll_interval=30.0), cleanup_every=None) as worker:
        listener = worker.listener
        # One event through NOTIFY first, then wait for the loop to fall quiet: no claim in
        # flight (nor one a late wake-up starts) may happen to see the next event.
        async with sessionmaker(engine)() as session, session.begin():
            await publish(session, type=ping_type, subject="s", payload=Ping(seq=0), source="tests")
        await wait_until(lambda: seen == [0], timeout=5, what="the first event")
        await _quiet(consumer_name)
        # Hold the listener's reconnection until we let it go: a database that is briefly unreachable.
        reachable = asyncio.Event()
        connect = listener._connect

        async def held_connect():
            await reachable.wait()
            return await connect()

        listener._connect = held_connect
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": listener.backend_pid})
        await wait_until(lambda: not listener.connected.is_set(), timeout=5, what="the listener to notice")

        async with sessionmaker(engine)() as session, session.begin():
            await publish(session, type=ping_type, subject="s", payload=Ping(seq=1), source="tests")
        await asyncio.sleep(0.3)
        assert seen == [0]  # its NOTIFY went nowhere, and the next poll is 30 s away

        reachable.set()
        await wait_until(lambda: seen == [0, 1], timeout=3, what="the catch-up claim after reconnecting")


async def _quiet(consumer: str) -> None:
    """Until the consumer's loop has run no claim for 300 ms."""
    last = _claims(consumer)
    while True:
        await asyncio.sleep(0.3)
        if _claims(consumer) == last:
            return
        last = _claims(consumer)


def _claims(consumer: str) -> float:
    return REGISTRY.get_sample_value("sprout_events_claims_total", {"consumer": consumer}) or 0.0
