"""Poison deliveries: a handler that kills its process or its connection uses up its attempts and stalls nothing else."""

from __future__ import annotations

import time

from sqlalchemy import text

from shared.events import Consumer, admin, register_subscriptions, run_consumers
from tests.events.support import (
    ConsumerProcess,
    publish_pings,
    record_effect,
    rows,
    settled,
    wait_until,
)

MAX_ATTEMPTS = 3
POISON = 9  # the tenth event: inside the first batch of ten


async def _effects(engine, consumer: str):
    return await rows(engine, "SELECT event_id, seq FROM test_effects.effect WHERE consumer = :c", c=consumer)


async def _deliveries(engine, consumer: str):
    return await rows(
        engine,
        """
        SELECT (e.payload ->> 'seq')::int AS seq, d.status::text AS status, d.attempts, d.last_error
        FROM events.delivery d JOIN events.event e ON e.id = d.event_id
        WHERE d.consumer = :c ORDER BY d.id
        """,
        c=consumer,
    )


async def test_a_handler_that_exits_its_process_is_dead_lettered_after_the_attempt_limit_while_the_consumer_handles_every_other_event(
    engine, database_url, effects, ping_type, consumer_name, workdir
):
    await register_subscriptions(engine, [Consumer(consumer_name, {ping_type: _never})])
    # Published before any consumer runs, so the poison's first attempt is in a full batch.
    await publish_pings(engine, ping_type, [(f"student-{i}", i) for i in range(40)])

    # The supervisor: start a consumer, and start another each time one dies, within bounds.
    deaths = 0
    deadline = time.monotonic() + 120
    while not await settled(engine, consumer_name, {"done": 39, "dead": 1}):
        assert deaths <= MAX_ATTEMPTS + 2, f"{deaths} deaths: the poison is never counted out"
        assert time.monotonic() < deadline, "the consumer did not settle within 120 s"
        proc = ConsumerProcess(
            workdir, db=database_url, consumer=consumer_name, event_type=ping_type, tag=f"run{deaths}",
            batch=10, exit_on_seq=POISON, max_attempts=MAX_ATTEMPTS, backoff=0.05, lease=0.05,
        )
        try:
            await proc.wait_ready()

            async def died_or_settled() -> bool:
                return proc.proc.poll() is not None or await settled(engine, consumer_name, {"done": 39, "dead": 1})

            await wait_until(died_or_settled, timeout=30, interval=0.05, what="a death or the end")
            if proc.proc.poll() is None:
                assert await proc.stop() == 0, proc.output()
            else:
                assert proc.proc.returncode == 1, proc.output()
                deaths += 1
        finally:
            proc.close()

    # One death in the first batch (charged to none of its ten: which one was it?), then one
    # per lone attempt of the poison until the limit; the next claim dead-letters it.
    assert deaths == MAX_ATTEMPTS + 1
    by_seq = {d.seq: d for d in await _deliveries(engine, consumer_name)}
    poison = by_seq.pop(POISON)
    assert (poison.status, poison.attempts) == ("dead", MAX_ATTEMPTS)
    assert "ended with its process or its database connection" in poison.last_error
    # Every other event was handled once, and charged the one attempt that handled it, even
    # the nine that shared the poison's first batch.
    assert {(d.status, d.attempts) for d in by_seq.values()} == {("done", 1)}
    done = await _effects(engine, consumer_name)
    assert sorted(r.seq for r in done) == sorted(by_seq)
    assert len({r.event_id for r in done}) == 39
    # Ops sees it as any other dead letter.
    [letter] = await admin.list_dead(database_url, consumer=consumer_name)
    assert letter["payload"]["seq"] == POISON


async def test_a_handler_that_kills_its_database_connection_is_dead_lettered_after_the_attempt_limit(
    engine, database_url, effects, ping_type, consumer_name, make_settings
):
    async def handle(session, event):
        if event.payload.seq == POISON:
            await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        await record_effect(session, consumer_name, event)

    consumer = Consumer(consumer_name, {ping_type: handle})
    await register_subscriptions(engine, [consumer])
    await publish_pings(engine, ping_type, [(f"student-{i}", i) for i in range(20)])
    settings = make_settings(
        events_batch_size=10, events_max_attempts=MAX_ATTEMPTS, events_backoff_base=0.05, events_claim_lease=0.05
    )
    async with run_consumers(engine, database_url, [consumer], settings, cleanup_every=None):
        await wait_until(
            lambda: settled(engine, consumer_name, {"done": 19, "dead": 1}), timeout=60, interval=0.05, what="settling"
        )

    by_seq = {d.seq: d for d in await _deliveries(engine, consumer_name)}
    poison = by_seq.pop(POISON)
    assert (poison.status, poison.attempts) == ("dead", MAX_ATTEMPTS)
    assert {(d.status, d.attempts) for d in by_seq.values()} == {("done", 1)}
    assert sorted(r.seq for r in await _effects(engine, consumer_name)) == sorted(by_seq)


async def _never(session, event) -> None:
    raise AssertionError("only the consumer processes handle these")
