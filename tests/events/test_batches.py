"""A consumer that handles a batch at once: one savepoint for all its deliveries, and, when the
batch handler raises, each delivery alone by its own handler, so a poison event stays one."""

from __future__ import annotations

from shared.events import Consumer, register_subscriptions, run_consumers
from tests.events.support import delivery_counts, publish_pings, record_effect, rows, settled, wait_until

POISON = 7


async def _effects(engine, consumer: str) -> list[int]:
    found = await rows(engine, "SELECT seq FROM test_effects.effect WHERE consumer = :c ORDER BY seq", c=consumer)
    return [r.seq for r in found]


async def test_a_batch_is_handled_at_once_and_a_poison_in_it_is_handled_alone(
    engine, effects, ping_type, consumer_name, make_settings
):
    batches: list[int] = []
    singles: list[int] = []

    async def one(session, event) -> None:
        singles.append(event.payload.seq)
        if event.payload.seq == POISON:
            raise RuntimeError("poison")
        await record_effect(session, consumer_name, event)

    async def many(session, events) -> None:
        batches.append(len(events))
        for event in events:
            await record_effect(session, consumer_name, event)
        if any(e.payload.seq == POISON for e in events):
            raise RuntimeError("poison in the batch")

    consumer = Consumer(consumer_name, {ping_type: one}, handle_many=many, batch_size=50)
    await register_subscriptions(engine, [consumer])
    # Forty events of forty subjects, then one more for the poison's subject (it waits behind it).
    await publish_pings(engine, ping_type, [(f"student-{i}", i) for i in range(40)] + [(f"student-{POISON}", 100)])
    settings = make_settings(events_max_attempts=2, events_backoff_base=0.05, events_backoff_max=0.05)
    async with run_consumers(engine, settings.database_url, [consumer], settings, cleanup_every=None):
        await wait_until(lambda: settled(engine, consumer_name, {"done": 39, "dead": 1, "pending": 1}), timeout=20, what="settled")
    # The first claim took all 41 in one batch; it raised, so its effects were rolled back and
    # each delivery ran alone, in order: 39 done, the poison failed, and its subject's next event
    # was put back behind it, never run.
    assert batches[0] == 41
    assert singles[:40] == list(range(40))
    assert singles.count(POISON) == 2 and 100 not in singles  # its two attempts
    # Every event but the poison has its effect exactly once (no effect of the failed batch kept).
    assert await _effects(engine, consumer_name) == [i for i in range(40) if i != POISON]
    # The poison is dead and holds its subject's later event, as any dead delivery does.
    assert await delivery_counts(engine, consumer_name) == {"done": 39, "dead": 1, "pending": 1}
