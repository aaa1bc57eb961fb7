"""`publish`: write a domain event and one delivery per subscribed consumer, in the caller's transaction.

This is the outbox: the event commits or rolls back with the change that caused it, so a
rolled-back request publishes nothing and a committed one can never lose its event. The
deliveries are written now (fan-out at publish time) rather than read later by offset,
because ids are not handed out in commit order and an offset reader would skip a slow
transaction's event. The AFTER INSERT trigger on `events.delivery` sends one NOTIFY per
consumer, which PostgreSQL delivers only at commit.
"""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from pydantic import BaseModel
from sqlalchemy import DateTime, String, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.events import contracts
from shared.events.models import Event
from shared.tracing import current_traceparent

log = logging.getLogger(__name__)

PUBLISHED = Counter(
    "sprout_events_published_total", "Events written by publish, by type (counted before the commit).", ["type"]
)

# One round trip: the event, then a delivery for every subscription of its type.
_PUBLISH = text(
    """
    WITH e AS (
        INSERT INTO events.event (event_id, type, version, source, subject, payload, occurred_at, traceparent)
        VALUES (:event_id, :type, :version, :source, :subject, :payload, :occurred_at, :traceparent)
        RETURNING id, type, subject
    ), d AS (
        INSERT INTO events.delivery (consumer, event_id, subject, available_at)
        SELECT s.consumer, e.id, e.subject, :available_at
        FROM e JOIN events.subscription s ON s.event_type = e.type
        RETURNING 1
    )
    SELECT e.id, (SELECT count(*) FROM d) AS deliveries FROM e
    """
).bindparams(
    bindparam("event_id", type_=UUID(as_uuid=True)),
    bindparam("type", type_=String),
    bindparam("source", type_=String),
    bindparam("subject", type_=String),
    bindparam("payload", type_=JSONB),
    bindparam("occurred_at", type_=DateTime(timezone=True)),
    bindparam("available_at", type_=DateTime(timezone=True)),
    bindparam("traceparent", type_=String),
)


async def publish(
    session: AsyncSession,
    *,
    type: str,
    subject: str | uuid.UUID | int,
    payload: BaseModel | Mapping[str, Any],
    source: str,
    version: int = 1,
    available_at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> Event:
    """Publish `type` about `subject` (the aggregate, usually a student id) in the session's transaction.

    `payload` is the contract model or a mapping that validates against it. `available_at`
    in the future makes a timer: no consumer sees it before then. The transaction is only
    used, never committed: the request's session commits it. Returns a transient `Event`
    holding what was written (it is not added to the session).
    """
    stored = contracts.validate_for_publish(type, version, payload)
    occurred_at = clock.now()
    if available_at is not None and available_at.tzinfo is None:
        raise ValueError("available_at must be an aware datetime")
    event = Event(
        event_id=event_id or uuid.uuid4(),
        type=type,
        version=version,
        source=source,
        subject=str(subject),
        payload=stored,
        occurred_at=occurred_at,
        traceparent=current_traceparent(),
    )
    row = (
        await session.execute(
            _PUBLISH,
            {
                "event_id": event.event_id,
                "type": event.type,
                "version": event.version,
                "source": event.source,
                "subject": event.subject,
                "payload": event.payload,
                "occurred_at": occurred_at,
                "available_at": available_at or occurred_at,
                "traceparent": event.traceparent,
            },
        )
    ).one()
    event.id = row.id
    PUBLISHED.labels(type).inc()
    log.debug(
        "event published",
        extra={"event_type": type, "event_id": str(event.event_id), "subject": event.subject, "deliveries": row.deliveries},
    )
    return event


@dataclass(frozen=True)
class Outgoing:
    """One event for `publish_many`: what `publish` takes, less the session and the source."""

    type: str
    subject: str | uuid.UUID | int
    payload: BaseModel | Mapping[str, Any]
    version: int = 1
    available_at: datetime | None = None


# `_PUBLISH` for a batch: the events in the order given (their ids, and their deliveries' ids
# per consumer, follow it), and a delivery for every subscription of each one's type.
_PUBLISH_MANY = text(
    """
    WITH i AS (
        SELECT * FROM unnest(
            CAST(:event_ids AS uuid[]), CAST(:types AS text[]), CAST(:versions AS int[]),
            CAST(:subjects AS text[]), CAST(:payloads AS text[]), CAST(:available_at AS timestamptz[])
        ) WITH ORDINALITY AS i(event_id, type, version, subject, payload, available_at, n)
    ), e AS (
        INSERT INTO events.event (event_id, type, version, source, subject, payload, occurred_at, traceparent)
        SELECT i.event_id, i.type, i.version, :source, i.subject, CAST(i.payload AS jsonb), :occurred_at, :traceparent
        FROM i ORDER BY i.n
        RETURNING id, event_id, type, subject
    ), d AS (
        INSERT INTO events.delivery (consumer, event_id, subject, available_at)
        SELECT s.consumer, e.id, e.subject, coalesce(i.available_at, :occurred_at)
        FROM e JOIN i ON i.event_id = e.event_id JOIN events.subscription s ON s.event_type = e.type
        ORDER BY e.id, s.consumer
        RETURNING 1
    )
    SELECT count(*) AS deliveries FROM d
    """
).bindparams(
    bindparam("source", type_=String),
    bindparam("occurred_at", type_=DateTime(timezone=True)),
    bindparam("traceparent", type_=String),
)

PUBLISH_BATCH = 500


async def publish_many(
    session: AsyncSession, events: Iterable[Outgoing], *, source: str, batch: int = PUBLISH_BATCH
) -> int:
    """`publish` for many events (a bulk import's), one statement per `batch` of them; how many.

    The same guarantees: each payload validated against its contract, everything written in
    the session's transaction, and the events in the order given, so one subject's reach a
    consumer in that order. `events` is consumed a batch at a time: a generator that builds
    the payloads spends its CPU between the statements, never all of it at once.
    """
    occurred_at = clock.now()
    traceparent = current_traceparent()
    count = 0
    items = iter(events)
    while chunk := list(itertools.islice(items, batch)):
        columns: dict[str, list[Any]] = {k: [] for k in ("event_ids", "types", "versions", "subjects", "payloads", "available_at")}
        for item in chunk:
            if item.available_at is not None and item.available_at.tzinfo is None:
                raise ValueError("available_at must be an aware datetime")
            columns["event_ids"].append(uuid.uuid4())
            columns["types"].append(item.type)
            columns["versions"].append(item.version)
            columns["subjects"].append(str(item.subject))
            columns["payloads"].append(_stored_json(item))
            columns["available_at"].append(item.available_at)
        deliveries = (
            await session.execute(
                _PUBLISH_MANY, {**columns, "source": source, "occurred_at": occurred_at, "traceparent": traceparent}
            )
        ).scalar_one()
        for item in chunk:
            PUBLISHED.labels(item.type).inc()
        count += len(chunk)
        log.debug("events published", extra={"events": len(chunk), "deliveries": deliveries})
    return count


def _stored_json(item: Outgoing) -> str:
    """The payload as `publish` stores it, as JSON text (a contract model dumps itself, in one step)."""
    if isinstance(item.payload, contracts.lookup(item.type, item.version)):
        return item.payload.model_dump_json()
    return json.dumps(contracts.validate_for_publish(item.type, item.version, item.payload))
