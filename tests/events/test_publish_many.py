"""`publish_many`: what `publish` writes, for thousands of events, in the order given, across batches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from shared import clock
from shared.events import Outgoing, publish_many
from shared.events.models import Delivery, Event, Subscription
from tests.events.support import Ping, unique


async def test_events_are_written_in_the_order_given_with_a_delivery_per_subscription(session, ping_type):
    first, second = unique("c"), unique("c")
    session.add_all([Subscription(consumer=first, event_type=ping_type), Subscription(consumer=second, event_type=ping_type)])
    await session.flush()
    subjects = [unique("s") for _ in range(3)]
    later = clock.now() + timedelta(days=2)
    items = [
        Outgoing(type=ping_type, subject=subjects[n % 3], payload=Ping(seq=n), available_at=later if n == 4 else None)
        for n in range(7)
    ]
    # Batches of 3: the order holds across statements too.
    assert await publish_many(session, items, source="tests", batch=3) == 7

    events = (await session.execute(select(Event).where(Event.type == ping_type).order_by(Event.id))).scalars().all()
    assert [(e.subject, e.payload["seq"], e.source) for e in events] == [(subjects[n % 3], n, "tests") for n in range(7)]
    assert len({e.event_id for e in events}) == 7 and len({e.occurred_at for e in events}) == 1
    for consumer in (first, second):
        deliveries = (
            await session.execute(select(Delivery).where(Delivery.consumer == consumer).order_by(Delivery.id))
        ).scalars().all()
        # Per consumer, delivery ids follow the events: what orders one subject's deliveries.
        assert [d.event_id for d in deliveries] == [e.id for e in events]
        assert [d.available_at == later for d in deliveries] == [n == 4 for n in range(7)]
        assert all(d.available_at == events[0].occurred_at for d in deliveries if d.available_at != later)


async def test_a_payload_that_breaks_its_contract_writes_nothing_of_its_batch(session, ping_type):
    with pytest.raises(ValidationError):
        await publish_many(
            session, [Outgoing(type=ping_type, subject="s", payload={"seq": 1}), Outgoing(type=ping_type, subject="s", payload={"seq": "x"})],
            source="tests",
        )
    assert (await session.execute(select(Event.id).where(Event.type == ping_type))).all() == []
    assert await publish_many(session, [], source="tests") == 0
