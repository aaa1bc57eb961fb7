"""The experts' registry: who may sit on an interview panel, of which type, for which disciplines, up to how many candidates."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.selection.db import SCHEMA, Base, chain
from shared.db import value_enum


class ExpertType(StrEnum):
    """The seed's panel mixes these three."""

    professor = "professor"  # a university professor
    researcher = "researcher"  # an education researcher
    principal = "principal"  # a school principal


class Expert(Base):
    """A person with the `expert` role, registered by staff. `school_id` and `partner_id` are the
    directory's for that person when registered (a principal's school, a professor's university):
    an expert is never assigned a candidate of their own school."""

    __tablename__ = "expert"
    __table_args__ = (CheckConstraint("max_load BETWEEN 1 AND 10000", name="max_load_range"),)

    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    type: Mapped[ExpertType] = mapped_column(value_enum(ExpertType, "expert_type", SCHEMA))
    disciplines: Mapped[list[str]] = mapped_column(ARRAY(String(30)))
    affiliation: Mapped[str] = mapped_column(String(200))
    school_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    partner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    max_load: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    registered_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(Expert.__table__, ["type", "disciplines", "affiliation", "school_id", "partner_id", "max_load", "active"], key="person_id")


class PanelMember(Base):
    """An expert on a candidate's interview panel (the campaign's `panel_size` of them per candidate)."""

    __tablename__ = "panel_member"
    __table_args__ = (UniqueConstraint("candidate_id", "expert_id"), Index("ix_panel_member_expert", "expert_id", "candidate_id"))

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.campaign.id", ondelete="CASCADE"))
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.candidate.id", ondelete="CASCADE"))
    expert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.expert.person_id"))
    assigned_by: Mapped[str] = mapped_column(String(100))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(PanelMember.__table__, ["campaign_id", "candidate_id", "expert_id", "assigned_by", "assigned_at"])


class CampaignRubric(Base):
    """The interview's rubric for one discipline of a campaign (shared/rubrics.Rubric as JSON), frozen once the interview opens."""

    __tablename__ = "campaign_rubric"
    __table_args__ = (UniqueConstraint("campaign_id", "discipline"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.campaign.id", ondelete="CASCADE"))
    discipline: Mapped[str] = mapped_column(String(30))
    rubric: Mapped[dict[str, Any]] = mapped_column(JSONB)
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InterviewScore(Base):
    """One expert's scores of one candidate on the rubric, as given (raw), and their total on 0-100."""

    __tablename__ = "interview_score"
    __table_args__ = (UniqueConstraint("candidate_id", "expert_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.campaign.id", ondelete="CASCADE"))
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.candidate.id", ondelete="CASCADE"))
    expert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.expert.person_id"))
    scores: Mapped[dict[str, Any]] = mapped_column(JSONB)
    total: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(CampaignRubric.__table__, ["campaign_id", "discipline", "rubric", "set_by", "set_at"])
chain.track(InterviewScore.__table__, ["candidate_id", "expert_id", "scores", "total", "submitted_at"])


class Adjudication(Base):
    """Staff's ruling on a candidate whose panel disagreed beyond the threshold: the panel's
    corrected score stands (`score` None), or staff set the interview score (0-100) in its place,
    always with the reason."""

    __tablename__ = "interview_adjudication"
    __table_args__ = (UniqueConstraint("candidate_id"), CheckConstraint("score BETWEEN 0 AND 100", name="score_range"))

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.campaign.id", ondelete="CASCADE"))
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.candidate.id", ondelete="CASCADE"))
    score: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    reason: Mapped[str] = mapped_column(String(2000))
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(Adjudication.__table__, ["campaign_id", "candidate_id", "score", "reason", "decided_by", "decided_at"])
