"""The shared event table (schema `events`): events, durable subscriptions, one delivery per (consumer, event)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import declarative_base

SCHEMA = "events"
NOTIFY_CHANNEL = "sprout_events"
# Sent (empty) when a transaction writing `revocation` commits; see shared/revocations.py.
REVOCATION_CHANNEL = "sprout_revocations"

EventsBase = declarative_base(SCHEMA)
metadata = EventsBase.metadata


class DeliveryStatus(StrEnum):
    pending = "pending"
    done = "done"
    dead = "dead"  # out of attempts; holds the later deliveries of its subject until replayed or discarded
    discarded = "discarded"  # a dead delivery ops chose to skip (`sprout events discard`)


class Event(EventsBase):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict] = mapped_column(JSONB)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    traceparent: Mapped[str | None] = mapped_column(String(55))

    __table_args__ = (Index("ix_event_type_id", "type", "id"), Index("ix_event_occurred_at", "occurred_at"))


class Subscription(EventsBase):
    """A consumer's standing interest in an event type; it outlives the consumer's processes."""

    __tablename__ = "subscription"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Delivery(EventsBase):
    """One event owed to one consumer. Written at publish time, so commit order cannot hide an event."""

    __tablename__ = "delivery"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("events.event.id", ondelete="CASCADE"))
    # Copied from the event so the per-subject ordering check needs no join.
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, name="delivery_status", schema=SCHEMA, values_callable=lambda e: [m.value for m in e]),
        default=DeliveryStatus.pending,
        server_default=DeliveryStatus.pending.value,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    available_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When it was settled for good: done, or discarded. Set for those statuses only.
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The claim that has it in hand, and how many deliveries that claim took; both cleared when
    # the attempt settles. Still set on a pending row nobody holds: that attempt's process or
    # connection died (see worker.py, "Counting attempts").
    claim_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    claim_size: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("consumer", "event_id", name="uq_delivery_consumer"),
        # The claim query's path: a consumer's pending rows in the order they fall due, so
        # timers not yet due are never read; also the next wake-up (the first future one).
        Index(
            "ix_delivery_pending_due",
            "consumer",
            "available_at",
            "id",
            postgresql_where=text("status = 'pending'"),
        ),
        # The ordering check: is there an earlier pending delivery of this subject?
        Index(
            "ix_delivery_pending_subject",
            "consumer",
            "subject",
            "id",
            postgresql_where=text("status = 'pending'"),
        ),
        # Named here: `index=True` would take the schema into the name and differ from the migration.
        Index("ix_delivery_event_id", "event_id"),
        Index("ix_delivery_done_at", "done_at", postgresql_where=text("done_at IS NOT NULL")),
        # Is a dead delivery holding this subject? (and the dead letters of a consumer)
        Index("ix_delivery_dead_subject", "consumer", "subject", "id", postgresql_where=text("status = 'dead'")),
    )


class Revocation(EventsBase):
    """Sign-ins ended before their tokens expire: every token of `subject` issued at or before
    `revoked_at` is refused by every service (shared/revocations.py). Written by the gateway."""

    __tablename__ = "revocation"

    # A token's `kind` claim: 'user' (subject: the person's id) or 'client' (subject: client_id).
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Why, for whoever reads the table: account_disabled, password_reset, client_disabled, client_secret_reset.
    reason: Mapped[str] = mapped_column(String(40))

    __table_args__ = (
        CheckConstraint("kind IN ('user', 'client')", name="kind_known"),
        # The purge of rows whose tokens have all expired.
        Index("ix_revocation_revoked_at", "revoked_at"),
    )
