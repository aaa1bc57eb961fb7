"""The results' tables: a decision per candidate, objections to the published list and their answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, DateTime, Enum, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.selection.db import SCHEMA, Base, chain
from shared.db import value_enum


class Outcome(StrEnum):
    admitted = "admitted"
    waitlisted = "waitlisted"
    rejected = "rejected"


def _outcome() -> Enum:
    return value_enum(Outcome, "outcome", SCHEMA)


class Decision(Base):
    """Staff's decision on a candidate, with what the ranking proposed when it was made."""

    __tablename__ = "decision"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.candidate.id", ondelete="CASCADE"), unique=True)
    outcome: Mapped[Outcome] = mapped_column(_outcome())
    proposal: Mapped[Outcome] = mapped_column(_outcome())
    rank: Mapped[int] = mapped_column(Integer)
    composite: Mapped[Decimal | None] = mapped_column(Numeric(8, 4))
    # The decision differs from the ranking's proposal: `reason` says why, and the audit shows it.
    against_ranking: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Objection(Base):
    """An objection to a published admission (异议), one per person and candidate, and staff's written answer."""

    __tablename__ = "objection"
    __table_args__ = (
        UniqueConstraint("candidate_id", "objector_id"),
        Index("ix_objection_campaign_created", "campaign_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.campaign.id", ondelete="CASCADE"))
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.candidate.id", ondelete="CASCADE"))
    objector_id: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


chain.track(Decision.__table__, ["candidate_id", "outcome", "proposal", "rank", "composite", "against_ranking", "reason", "decided_by", "decided_at"])
chain.track(Objection.__table__, ["candidate_id", "objector_id", "reason", "created_at", "answer", "answered_by", "answered_at"])
