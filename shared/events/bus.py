"""`publish`: write a domain event and one delivery per subscribed consumer, in the caller's transaction.

This is the outbox: the event commits or rolls back with the change that caused it, so a
rolled-back request publishes nothing and a committed one can never lose its event. The
deliveries are written now (fan-out at publish time) rather than read later by offset,
because ids are not handed out in commit order and an offset reader would skip a slow
transaction's event. The AFTER INSERT trigger on `events.delivery` sends one NOTIFY per
consumer, which PostgreSQL delivers only at commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
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
