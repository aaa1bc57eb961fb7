"""The selection schema's core tables: campaigns and their stages, nominations and candidates, assessment scores.

A campaign runs once a year through fixed stages, in order (`STAGES`). A student nominated for
a discipline becomes one *candidate* of the campaign for that discipline, however many
nominations (a school's recommendation, their own) name them: each nomination stays, as a
source of the candidate. Scores of the IQ and written tests are one row per candidate and
stage, with a state (scored, absent, exempt): absent and exempt are never zeros.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint, DateTime, Enum, ForeignKey, Index, Integer, Numeric, SmallInteger, String, Text,
    UniqueConstraint, text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.selection.db import SCHEMA, Base, chain
from shared.db import value_enum
from shared.disciplines import Discipline


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return value_enum(cls, name, SCHEMA)


class Stage(StrEnum):
    """A campaign's stages, in the only order they run. `draft` is before the campaign opens."""

    draft = "draft"
    nomination = "nomination"
    iq_test = "iq_test"
    written_test = "written_test"
    interview = "interview"
    decision = "decision"
    publication = "publication"
    final = "final"


STAGES: tuple[Stage, ...] = tuple(Stage)
# The stages whose scores make a candidate's composite, each with a weight per discipline.
SCORED_STAGES: tuple[Stage, ...] = (Stage.iq_test, Stage.written_test, Stage.interview)
# The stages whose scores staff enter or upload (the interview is scored by experts on a rubric).
TEST_STAGES: tuple[Stage, ...] = (Stage.iq_test, Stage.written_test)


def stage_index(stage: Stage) -> int:
    return STAGES.index(stage)


class CandidateStatus(StrEnum):
    active = "active"
    withdrawn = "withdrawn"


class NominationSource(StrEnum):
    school = "school"  # recommended by the student's school (its coordinator)
    self = "self"  # the student nominated themself


class ScoreState(StrEnum):
    scored = "scored"
    absent = "absent"  # did not sit the test
    exempt = "exempt"  # excused: the stage's weight goes to the candidate's other stages


class Campaign(Base):
    """One year's selection. `stage` is where it stands; `stage_closed_at` is set when the
    current stage's deadline passed (its timer) or staff closed it, so no more work is taken."""

    __tablename__ = "campaign"
    __table_args__ = (
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_plausible"),
        CheckConstraint("school_limit > 0", name="school_limit_positive"),
        CheckConstraint("objection_days BETWEEN 1 AND 60", name="objection_days_range"),
        CheckConstraint("iq_min < iq_max AND written_min < written_max", name="scales_ordered"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    year: Mapped[int] = mapped_column(SmallInteger, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    school_limit: Mapped[int] = mapped_column(Integer)
    objection_days: Mapped[int] = mapped_column(SmallInteger)
    # The panel size of the interview: experts per candidate.
    panel_size: Mapped[int] = mapped_column(SmallInteger, server_default=text("3"))
    iq_min: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    iq_max: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    written_min: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    written_max: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    stage: Mapped[Stage] = mapped_column(_enum(Stage, "stage"), server_default=Stage.draft.value)
    stage_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stage_closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Deadlines staff set per stage ({stage: ISO time}); each is a timer event when set.
    deadlines: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    objections_close_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CampaignDiscipline(Base):
    """A discipline the campaign selects for: its quota, eligible grades and stage weights."""

    __tablename__ = "campaign_discipline"
    __table_args__ = (
        CheckConstraint("quota > 0", name="quota_positive"),
        CheckConstraint("min_grade BETWEEN 1 AND 12 AND max_grade BETWEEN min_grade AND 12", name="grades_range"),
    )

    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.campaign.id", ondelete="CASCADE"), primary_key=True)
    discipline: Mapped[Discipline] = mapped_column(_enum(Discipline, "discipline"), primary_key=True)
    quota: Mapped[int] = mapped_column(Integer)
    min_grade: Mapped[int] = mapped_column(SmallInteger)
    max_grade: Mapped[int] = mapped_column(SmallInteger)
    # {stage: weight} for SCORED_STAGES; a stage's weight is frozen once the stage opens.
    weights: Mapped[dict[str, Any]] = mapped_column(JSONB)


class StageTransition(Base):
    """Every move of a campaign's stage, and every stage closed early or by its deadline."""

    __tablename__ = "stage_transition"
    __table_args__ = (Index("ix_stage_transition_campaign_at", "campaign_id", "at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.campaign.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(20))  # "advanced" | "closed"
    from_stage: Mapped[Stage] = mapped_column(_enum(Stage, "stage"))
    to_stage: Mapped[Stage] = mapped_column(_enum(Stage, "stage"))
    # What was unfinished when staff moved on anyway (their reason says why), e.g. {"unscored": 3}.
    incomplete: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    reason: Mapped[str | None] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Candidate(Base):
    """A student in the running for one discipline of one campaign, with the decision once made."""

    __tablename__ = "candidate"
    __table_args__ = (
        UniqueConstraint("campaign_id", "student_id", "discipline"),
        Index("ix_candidate_campaign_discipline", "campaign_id", "discipline", "id"),
        Index("ix_candidate_student", "student_id"),
        CheckConstraint("grade BETWEEN 1 AND 12", name="grade_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.campaign.id", ondelete="CASCADE"))
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    discipline: Mapped[Discipline] = mapped_column(_enum(Discipline, "discipline"))
    # The school and grade when first nominated, as the directory said then.
    school_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    grade: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[CandidateStatus] = mapped_column(_enum(CandidateStatus, "candidate_status"), server_default="active")
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[str | None] = mapped_column(String(100))
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Nomination(Base):
    """One nomination of a candidate: by the school (its coordinator) or by the student."""

    __tablename__ = "nomination"
    __table_args__ = (
        UniqueConstraint("candidate_id", "source"),
        Index("ix_nomination_campaign_school", "campaign_id", "school_id", "source"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.campaign.id", ondelete="CASCADE"))
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.candidate.id", ondelete="CASCADE"))
    source: Mapped[NominationSource] = mapped_column(_enum(NominationSource, "nomination_source"))
    school_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    statement: Mapped[str] = mapped_column(Text)
    achievements: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    nominated_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AssessmentScore(Base):
    """A candidate's result in the IQ or the written test: a score, or absent, or exempt."""

    __tablename__ = "assessment_score"
    __table_args__ = (
        UniqueConstraint("candidate_id", "stage"),
        CheckConstraint("stage IN ('iq_test', 'written_test')", name="test_stage"),
        CheckConstraint("(state = 'scored') = (score IS NOT NULL)", name="score_iff_scored"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.candidate.id", ondelete="CASCADE"))
    stage: Mapped[Stage] = mapped_column(_enum(Stage, "stage"))
    state: Mapped[ScoreState] = mapped_column(_enum(ScoreState, "score_state"))
    score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    remark: Mapped[str | None] = mapped_column(String(200))
    entered_by: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# What the record vouches for: a row changed by hand no longer matches its last entry.
chain.track(Campaign.__table__, ["year", "stage", "stage_closed_at", "deadlines", "published_at", "objections_close_at"])
chain.track(StageTransition.__table__, ["campaign_id", "action", "from_stage", "to_stage", "incomplete", "reason", "by", "at"])
chain.track(Candidate.__table__, ["campaign_id", "student_id", "discipline", "school_id", "grade", "status", "withdrawn_at", "withdrawn_by", "withdrawal_reason"])
chain.track(Nomination.__table__, ["candidate_id", "source", "school_id", "statement", "achievements", "nominated_by"])
chain.track(AssessmentScore.__table__, ["candidate_id", "stage", "state", "score", "remark", "entered_by", "entered_at"])
