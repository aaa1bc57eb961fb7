"""Operating the event table: dead letters, replay, discard, cleanup and counts (`sprout events ...`).

A dead delivery holds the later deliveries of its subject for its consumer (see
`shared/events/__init__.py`), so every dead letter is listed with how many wait behind it.
Replay puts a dead delivery back to pending with a fresh attempt budget and keeps its
`last_error`, so the reason it died stays visible until it succeeds or dies again; the held
ones follow it in order. Discard gives up on a dead delivery for good, on purpose: it is
never handled, and the ones behind it go on. Both wake the consumers they concern.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import aliased

from shared import clock
from shared.db import create_engine
from shared.events.models import NOTIFY_CHANNEL, Delivery, DeliveryStatus, Event, Subscription

log = logging.getLogger(__name__)

# Any constant, as long as every replica uses the same one ("SPEVCL").
CLEANUP_LOCK_ID = 0x5350_4556_434C
CLEANUP_CHUNK = 5000

# Settled rows only (done or discarded: `done_at` is set exactly for those).
_DELETE_DONE = text(
    """
    WITH gone AS (
        SELECT id FROM events.delivery
        WHERE status IN ('done', 'discarded') AND done_at < :cutoff
        ORDER BY id LIMIT :chunk
        FOR UPDATE SKIP LOCKED
    )
    DELETE FROM events.delivery d USING gone WHERE d.id = gone.id
    """
)
# An event goes once nothing is owed on it: its deliveries are all done and deleted (or it had none).
_DELETE_EVENTS = text(
    """
    WITH gone AS (
        SELECT e.id FROM events.event e
        WHERE e.occurred_at < :cutoff
          AND NOT EXISTS (SELECT 1 FROM events.delivery d WHERE d.event_id = e.id)
        ORDER BY e.id LIMIT :chunk
        FOR UPDATE SKIP LOCKED
    )
    DELETE FROM events.event e USING gone WHERE e.id = gone.id
    """
)


@asynccontextmanager
async def _connect(url: str) -> AsyncIterator[AsyncConnection]:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            yield conn
    finally:
        await engine.dispose()


def _retention_days() -> int:
    from shared.settings import BaseServiceSettings

    return BaseServiceSettings().events_retention_days


def _held_behind(dead: type[Delivery]) -> Any:
    """How many pending deliveries wait behind the dead delivery `dead` (same consumer and subject, later)."""
    behind = aliased(Delivery)
    return (
        select(func.count())
        .where(
            behind.consumer == dead.consumer,
            behind.subject == dead.subject,
            behind.status == DeliveryStatus.pending,
            behind.id > dead.id,
        )
        .scalar_subquery()
    )


async def list_dead(url: str, *, consumer: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Dead-lettered deliveries, oldest first, with their events and how many deliveries each holds back."""
    stmt = (
        select(
            Delivery.id.label("delivery_id"),
            Delivery.consumer,
            Event.type,
            Event.version,
            Event.subject,
            _held_behind(Delivery).label("held"),
            Delivery.attempts,
            Delivery.last_error,
            Event.event_id,
            Event.source,
            Event.occurred_at,
            Delivery.available_at.label("last_attempt_due_at"),
            Event.traceparent,
            Event.payload,
        )
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.status == DeliveryStatus.dead)
        .order_by(Delivery.id)
        .limit(limit)
    )
    if consumer:
        stmt = stmt.where(Delivery.consumer == consumer)
    async with _connect(url) as conn:
        rows = (await conn.execute(stmt)).mappings().all()
    return [dict(r) for r in rows]


async def replay(url: str, *, delivery_ids: Sequence[int] | None = None, consumer: str | None = None) -> int:
    """Queue dead deliveries again (all of them, or those named, or those of `consumer`); returns how many."""
    values = {"status": DeliveryStatus.pending, "attempts": 0, "available_at": clock.now(), "done_at": None}
    count = await _settle_dead(url, values, delivery_ids=delivery_ids, consumer=consumer)
    log.info("dead deliveries replayed", extra={"count": count})
    return count


async def discard(url: str, *, delivery_ids: Sequence[int]) -> int:
    """Give up on the named dead deliveries for good; the deliveries they held go on. Returns how many.

    Only by id, never in bulk: each one is an event a read model will never see.
    """
    if not delivery_ids:
        return 0
    values = {"status": DeliveryStatus.discarded, "done_at": clock.now()}
    count = await _settle_dead(url, values, delivery_ids=delivery_ids, consumer=None)
    log.warning("dead deliveries discarded", extra={"count": count, "delivery_ids": sorted(delivery_ids)})
    return count


async def _settle_dead(
    url: str, values: dict[str, Any], *, delivery_ids: Sequence[int] | None, consumer: str | None
) -> int:
    """Update dead deliveries (those named, or of `consumer`, or all) and wake their consumers."""
    stmt = (
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.dead)
        .values(**values, claim_id=None, claim_size=None)
        .returning(Delivery.consumer)
    )
    if delivery_ids:
        stmt = stmt.where(Delivery.id.in_(list(delivery_ids)))
    if consumer:
        stmt = stmt.where(Delivery.consumer == consumer)
    async with _connect(url) as conn:
        consumers = (await conn.execute(stmt)).scalars().all()
        # The NOTIFY trigger fires on insert only; wake the consumers of these rows ourselves.
        for name in sorted(set(consumers)):
            await conn.execute(text("SELECT pg_notify(:channel, :consumer)"), {"channel": NOTIFY_CHANNEL, "consumer": name})
        await conn.commit()
    return len(consumers)


async def cleanup(url: str, *, older_than_days: int | None = None) -> dict[str, int]:
    """Delete done deliveries and fully delivered events older than the retention (default: settings)."""
    async with _connect(url) as conn:
        days = older_than_days if older_than_days is not None else _retention_days()
        return await purge(conn, older_than_days=days)


async def purge(conn: AsyncConnection, *, older_than_days: int) -> dict[str, int]:
    """Cleanup in chunks, each committed, so it never holds a long transaction over the event table.

    Pending and dead deliveries are never touched, nor the events they belong to.
    """
    cutoff = clock.now() - timedelta(days=older_than_days)
    removed = {"deliveries": 0, "events": 0}
    for key, stmt in (("deliveries", _DELETE_DONE), ("events", _DELETE_EVENTS)):
        while True:
            n = (await conn.execute(stmt, {"cutoff": cutoff, "chunk": CLEANUP_CHUNK})).rowcount
            await conn.commit()
            removed[key] += n
            if n < CLEANUP_CHUNK:
                break
    if removed["deliveries"] or removed["events"]:
        log.info("event table cleaned up", extra={**removed, "older_than_days": older_than_days})
    return removed


async def purge_if_leader(engine: AsyncEngine, *, older_than_days: int) -> dict[str, int] | None:
    """The worker's periodic cleanup: only the replica holding the advisory lock runs it; None if another does."""
    async with engine.connect() as conn:
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": CLEANUP_LOCK_ID})).scalar()
        await conn.commit()
        if not got:
            return None
        try:
            return await purge(conn, older_than_days=older_than_days)
        finally:
            try:
                await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": CLEANUP_LOCK_ID})
                await conn.commit()
            except BaseException:
                # A session lock outlives a transaction: never hand a connection holding it back to the pool.
                await conn.invalidate()
                raise


async def stats(url: str) -> dict[str, Any]:
    """Counts per consumer and status, how many pending ones dead deliveries hold back, how late
    the oldest due delivery is, and the subscriptions."""
    now = clock.now()
    due = (Delivery.status == DeliveryStatus.pending) & (Delivery.available_at <= now)
    dead = aliased(Delivery)
    held = (Delivery.status == DeliveryStatus.pending) & (
        select(dead.id)
        .where(
            dead.consumer == Delivery.consumer,
            dead.subject == Delivery.subject,
            dead.status == DeliveryStatus.dead,
            dead.id < Delivery.id,
        )
        .limit(1)
        .exists()
    )
    per_consumer = (
        select(
            Delivery.consumer,
            func.count().filter(Delivery.status == DeliveryStatus.pending).label("pending"),
            func.count().filter(due).label("due"),
            func.count().filter(held).label("held"),
            func.count().filter(Delivery.status == DeliveryStatus.done).label("done"),
            func.count().filter(Delivery.status == DeliveryStatus.dead).label("dead"),
            func.count().filter(Delivery.status == DeliveryStatus.discarded).label("discarded"),
            func.min(Delivery.available_at).filter(due).label("oldest_due"),
        )
        .group_by(Delivery.consumer)
        .order_by(Delivery.consumer)
    )
    async with _connect(url) as conn:
        rows = (await conn.execute(per_consumer)).all()
        subs = (await conn.execute(select(Subscription.consumer, Subscription.event_type).order_by(Subscription.consumer, Subscription.event_type))).all()
        events = (await conn.execute(select(func.count()).select_from(Event))).scalar_one()
    consumers: dict[str, dict[str, Any]] = {}
    for r in rows:
        consumers[r.consumer] = {
            "pending": r.pending,
            "due": r.due,
            "held": r.held,  # pending behind a dead delivery of their subject: replay or discard it
            "done": r.done,
            "dead": r.dead,
            "discarded": r.discarded,
            "oldest_due_seconds": round((now - r.oldest_due).total_seconds(), 3) if r.oldest_due else None,
        }
    subscriptions: dict[str, list[str]] = {}
    for consumer, event_type in subs:
        subscriptions.setdefault(consumer, []).append(event_type)
    return {"events": events, "consumers": consumers, "subscriptions": subscriptions}
