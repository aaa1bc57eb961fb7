"""The gateway's consumer of its own timer: `identity.person.turns_14`, due the day a child turns 14."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.directory import publisher
from shared.events import Consumer, EventEnvelope
from shared.events.contracts.identity import PERSON_TURNS_14

CONSUMER = "gateway.directory"


async def on_turns_14(session: AsyncSession, event: EventEnvelope) -> None:
    """Publish the person again (`under_14` false) if their published record is out of date;
    safe to run again, and for a timer whose birth date has changed since."""
    await publisher.person_turned_14(session, event.payload.person_id)


consumer = Consumer(CONSUMER, {PERSON_TURNS_14: on_turns_14})
