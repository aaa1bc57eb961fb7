"""Publishing: the outbox commits or rolls back with the caller's transaction, and fans out to subscribers."""

from __future__ import annotations

import pydantic
import pytest
from sqlalchemy import text

from shared.db import sessionmaker
from shared.events import Consumer, UnknownEventType, publish, register_subscriptions, run_consumers
from shared.tracing import continue_trace, current_traceparent, new_traceparent
from tests.events.support import Ping, delivery_counts, publish_pings, scalar, unique, wait_until


async def test_an_event_published_in_a_rolled_back_transaction_is_never_delivered(
    engine, database_url, ping_type, consumer_name, make_settings
):
    seen: list[int] = []

    async def handle(session, event):
        seen.append(event.payload.seq)

    consumer = Consumer(consumer_name, {ping_type: handle})
    async with run_consumers(engine, database_url, [consumer], make_settings(), cleanup_every=None):
        async with sessionmaker(engine)() as session:
            await session.begin()
            doomed = await publish(session, type=ping_type, subject="s1", payload=Ping(seq=1), source="tests")
            # Inside the transaction the fan-out is there...
            owed = await session.scalar(text("SELECT count(*) FROM events.delivery WHERE event_id = :id"), {"id": doomed.id})
            assert owed == 1
            await session.rollback()
        # ...and a later, committed event of the same subject proves the consumer was listening.
        await publish_pings(engine, ping_type, [("s1", 2)])
        await wait_until(lambda: 2 in seen, timeout=30, what="the committed event")

    assert seen == [2]
    assert await scalar(engine, "SELECT count(*) FROM events.event WHERE event_id = :e", e=doomed.event_id) == 0
    assert await delivery_counts(engine, consumer_name) == {"done": 1}


async def test_publish_fans_out_one_delivery_per_subscribed_consumer(engine, session, ping_type):
    subscribed = [Consumer(unique("c"), {ping_type: _noop}) for _ in range(3)]
    await register_subscriptions(engine, subscribed)

    event = await publish(session, type=ping_type, subject="student-7", payload={"seq": 4}, source="tests")

    owed = (
        await session.execute(
            text("SELECT consumer, subject, status::text, attempts FROM events.delivery WHERE event_id = :id ORDER BY consumer"),
            {"id": event.id},
        )
    ).all()
    assert [tuple(r) for r in owed] == [(c.name, "student-7", "pending", 0) for c in sorted(subscribed, key=lambda c: c.name)]
    stored = (await session.execute(text("SELECT type, version, source, payload FROM events.event WHERE id = :id"), {"id": event.id})).one()
    assert tuple(stored) == (ping_type, 1, "tests", {"seq": 4, "note": ""})


async def test_an_event_nobody_subscribes_to_is_stored_with_no_deliveries(session, ping_type):
    event = await publish(session, type=ping_type, subject="s", payload=Ping(), source="tests")
    assert await session.scalar(text("SELECT count(*) FROM events.delivery WHERE event_id = :id"), {"id": event.id}) == 0
    assert await session.scalar(text("SELECT count(*) FROM events.event WHERE id = :id"), {"id": event.id}) == 1


async def test_publish_refuses_an_unknown_type_and_a_payload_off_contract(session, ping_type):
    with pytest.raises(UnknownEventType):
        await publish(session, type="no.such.event", subject="s", payload={}, source="tests")
    with pytest.raises(UnknownEventType):
        await publish(session, type=ping_type, version=2, subject="s", payload={}, source="tests")
    with pytest.raises(pydantic.ValidationError):
        await publish(session, type=ping_type, subject="s", payload={"seq": "not a number"}, source="tests")
    with pytest.raises(pydantic.ValidationError):
        await publish(session, type=ping_type, subject="s", payload={"seq": 1, "undeclared": True}, source="tests")


async def test_a_consumer_that_was_down_gets_every_event_published_meanwhile(
    engine, database_url, ping_type, consumer_name, make_settings
):
    seen: list[tuple[str, int]] = []

    async def handle(session, event):
        seen.append((event.subject, event.payload.seq))

    consumer = Consumer(consumer_name, {ping_type: handle})
    await register_subscriptions(engine, [consumer])  # as `sprout migrate` does, before any process runs
    published = [(f"s{i % 4}", i) for i in range(40)]
    await publish_pings(engine, ping_type, published, chunk=9)
    assert await delivery_counts(engine, consumer_name) == {"pending": 40}

    async with run_consumers(engine, database_url, [consumer], make_settings(events_batch_size=8), cleanup_every=None):
        await wait_until(lambda: len(seen) >= 40, timeout=30, what="40 deliveries")

    assert sorted(seen, key=lambda s: s[1]) == published
    for subject in {s for s, _ in published}:
        assert [n for s, n in seen if s == subject] == [n for s, n in published if s == subject]
    assert await delivery_counts(engine, consumer_name) == {"done": 40}


async def test_the_handler_continues_the_publishers_trace(engine, database_url, ping_type, consumer_name, make_settings):
    traceparent = new_traceparent()
    seen: list[tuple[str | None, str | None]] = []

    async def handle(session, event):
        seen.append((event.traceparent, current_traceparent()))

    consumer = Consumer(consumer_name, {ping_type: handle})
    async with run_consumers(engine, database_url, [consumer], make_settings(), cleanup_every=None):
        with continue_trace(traceparent, "a request"):
            async with sessionmaker(engine)() as session, session.begin():
                event = await publish(session, type=ping_type, subject="s", payload=Ping(), source="tests")
        assert event.traceparent == traceparent
        await wait_until(lambda: bool(seen), timeout=30, what="the delivery")

    assert seen == [(traceparent, traceparent)]


async def _noop(session, event) -> None:
    return None


async def test_a_backlog_of_one_subject_is_handled_in_order_several_to_a_transaction(
    engine, database_url, ping_type, consumer_name, make_settings
):
    handled: list[tuple[int, int]] = []  # seq, transaction id

    async def handle(session, event):
        handled.append((event.payload.seq, (await session.execute(text("SELECT txid_current()"))).scalar()))

    consumer = Consumer(consumer_name, {ping_type: handle})
    await register_subscriptions(engine, [consumer])
    await publish_pings(engine, ping_type, [("student-1", n) for n in range(25)])
    async with run_consumers(engine, database_url, [consumer], make_settings(events_batch_size=10), cleanup_every=None):
        await wait_until(lambda: len(handled) >= 25, timeout=30, what="25 deliveries")

    assert [seq for seq, _ in handled] == list(range(25))
    batches = [sum(1 for _, tx in handled if tx == txid) for txid in dict.fromkeys(tx for _, tx in handled)]
    assert batches == [10, 10, 5]
