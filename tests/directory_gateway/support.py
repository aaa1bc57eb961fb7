"""What the directory tests read back: the events the gateway published about a subject, in order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.events.models import Delivery, Event, Subscription

# Personal data a payload must never carry, by the keys a careless record would use.
PERSONAL_KEYS = {"id_number", "phone", "address", "birth_date", "username", "password", "password_hash"}


@dataclass(frozen=True)
class Published:
    type: str
    payload: dict[str, Any]
    id: int


async def published(db: AsyncSession | AsyncConnection, subject: uuid.UUID, *, after: int = 0) -> list[Published]:
    """The gateway's events about `subject` (the ones this transaction sees), oldest first."""
    stmt = (
        select(Event.type, Event.payload, Event.id)
        .where(Event.subject == str(subject), Event.source == "gateway", Event.id > after)
        .order_by(Event.id)
    )
    return [Published(*row) for row in (await db.execute(stmt)).all()]


def types(events: list[Published]) -> list[str]:
    return [e.type for e in events]


def directory(events: list[Published]) -> list[Published]:
    """The records, without the under-14 timers."""
    return [e for e in events if e.type != "identity.person.turns_14"]


async def subscribe(session: AsyncSession, consumer: str, *event_types: str) -> None:
    """A subscription of this transaction only, so `publish` writes deliveries (with their times) to read."""
    session.add_all(Subscription(consumer=consumer, event_type=t) for t in event_types)
    await session.flush()


async def due_times(session: AsyncSession, consumer: str, subject: uuid.UUID) -> list[datetime]:
    stmt = (
        select(Delivery.available_at)
        .where(Delivery.consumer == consumer, Delivery.subject == str(subject))
        .order_by(Delivery.id)
    )
    return list((await session.execute(stmt)).scalars())
