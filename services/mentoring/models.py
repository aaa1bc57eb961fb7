"""Mentoring's records: the mentors' registry, who needs a mentor, and the mentorships.

A student admitted in a discipline (`selection.candidate.admitted`) needs a lab mentor in
that discipline and a life mentor (one, whatever the number of disciplines): each is a
`Need`, open until a mentorship meets it or the student exits. A mentorship is one student
and one mentor of one kind; it ends when either side's request is approved, or the student
exits (`tracking.student.exited`), which frees the mentor's place.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.mentoring.db import SCHEMA, Base, chain
from shared.db import value_enum
from shared.disciplines import Discipline


class MentorKind(StrEnum):
    """Which mentoring a mentor gives: research (lab), life and career planning (life), or both."""

    lab = "lab"
    life = "life"
    both = "both"


class MentorType(StrEnum):
    professor = "professor"  # a university professor
    researcher = "researcher"  # a researcher of an institute
    teacher = "teacher"  # a school teacher
    engineer = "engineer"  # an engineer of a company


class NeedKind(StrEnum):
    lab = "lab"
    life = "life"


class Mentor(Base):
    """A person with the `mentor` role in the registry. `school_id` and `partner_id` are the
    directory's for that person (a teacher's school, a professor's university) when the entry
    was last written. Capacities count students at once, per kind."""

    __tablename__ = "mentor"
    __table_args__ = (
        CheckConstraint("lab_capacity BETWEEN 0 AND 100", name="lab_capacity_range"),
        CheckConstraint("life_capacity BETWEEN 0 AND 100", name="life_capacity_range"),
    )

    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[MentorKind] = mapped_column(value_enum(MentorKind, "mentor_kind", SCHEMA))
    type: Mapped[MentorType] = mapped_column(value_enum(MentorType, "mentor_type", SCHEMA))
    affiliation: Mapped[str] = mapped_column(String(200))
    school_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    partner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    disciplines: Mapped[list[str]] = mapped_column(ARRAY(String(30)))
    topics: Mapped[list[str]] = mapped_column(ARRAY(String(200)))
    lab_capacity: Mapped[int] = mapped_column(Integer)
    life_capacity: Mapped[int] = mapped_column(Integer)
    availability: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column(Boolean)
    registered_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(Mentor.__table__, [
    "kind", "type", "affiliation", "school_id", "partner_id", "disciplines", "topics", "lab_capacity", "life_capacity",
    "availability", "active",
], key="person_id")


class Need(Base):
    """A student waiting for (or given) a mentor of one kind: from one admission, closed when
    the student exits. At most one open lab need per student and discipline, one open life need
    per student; an admission delivered again finds its needs already there."""

    __tablename__ = "need"
    __table_args__ = (
        CheckConstraint("(kind = 'lab') = (discipline IS NOT NULL)", name="lab_has_discipline"),
        UniqueConstraint("candidate_id", "kind"),
        Index("uq_need_open_lab", "student_id", "discipline", unique=True, postgresql_where=text("kind = 'lab' AND closed_at IS NULL")),
        Index("uq_need_open_life", "student_id", unique=True, postgresql_where=text("kind = 'life' AND closed_at IS NULL")),
        Index("ix_need_pool", "kind", "discipline", "closed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[NeedKind] = mapped_column(value_enum(NeedKind, "need_kind", SCHEMA))
    discipline: Mapped[Discipline | None] = mapped_column(value_enum(Discipline, "discipline", SCHEMA))
    cohort_year: Mapped[int] = mapped_column(Integer)
    school_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    grade: Mapped[int] = mapped_column(Integer)
    candidate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    selection_rank: Mapped[int | None] = mapped_column(Integer)  # the admission's rank in its discipline
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_reason: Mapped[str | None] = mapped_column(String(40))


class MentorshipStatus(StrEnum):
    active = "active"
    paused = "paused"
    ended = "ended"


class Mentorship(Base):
    """One student and one mentor of one kind (a lab mentorship in the need's discipline)."""

    __tablename__ = "mentorship"
    __table_args__ = (
        Index("uq_mentorship_open", "need_id", unique=True, postgresql_where=text("status <> 'ended'")),
        Index("ix_mentorship_mentor", "mentor_id", "kind", "status"),
        Index("ix_mentorship_student", "student_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    need_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.need.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    mentor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.mentor.person_id"))
    kind: Mapped[NeedKind] = mapped_column(value_enum(NeedKind, "need_kind", SCHEMA))
    discipline: Mapped[Discipline | None] = mapped_column(value_enum(Discipline, "discipline", SCHEMA))
    status: Mapped[MentorshipStatus] = mapped_column(value_enum(MentorshipStatus, "mentorship_status", SCHEMA))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(2000))


chain.track(Mentorship.__table__, ["need_id", "student_id", "mentor_id", "kind", "discipline", "status", "started_at", "ended_at", "end_reason"])


class DefaultOrder(StrEnum):
    """How a mentor who has not ranked their applicants takes them (staff choose per round)."""

    selection_rank = "selection_rank"  # by the rank of their admission, best first
    grade = "grade"  # the oldest grade first
    admitted = "admitted"  # the earliest admitted first


class Round(Base):
    """A matching round of one kind for one cohort: students rank lab mentors between `opens_at`
    and `closes_at` (a life round has no preferences: its run balances the load)."""

    __tablename__ = "matching_round"
    __table_args__ = (CheckConstraint("closes_at > opens_at", name="window_order"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    kind: Mapped[NeedKind] = mapped_column(value_enum(NeedKind, "need_kind", SCHEMA))
    cohort_year: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    opens_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    default_order: Mapped[DefaultOrder] = mapped_column(value_enum(DefaultOrder, "default_order", SCHEMA))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(Round.__table__, ["kind", "cohort_year", "title", "opens_at", "closes_at", "default_order"])


class Preference(Base):
    """One place of a student's list for one need in one round: `rank` 1 is their first choice."""

    __tablename__ = "preference"
    __table_args__ = (
        UniqueConstraint("round_id", "need_id", "rank"),
        UniqueConstraint("round_id", "need_id", "mentor_id"),
        CheckConstraint("rank BETWEEN 1 AND 10", name="rank_range"),
        Index("ix_preference_mentor", "round_id", "mentor_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.matching_round.id", ondelete="CASCADE"))
    need_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.need.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    mentor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.mentor.person_id"))
    rank: Mapped[int] = mapped_column(Integer)
    entered_by: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MentorRanking(Base):
    """A mentor's order of the students who listed them in a lab round: rank 1 first. A mentor with
    a ranking takes only the students in it; one without takes every applicant, in the round's
    default order."""

    __tablename__ = "mentor_ranking"
    __table_args__ = (
        UniqueConstraint("round_id", "mentor_id", "need_id"),
        UniqueConstraint("round_id", "mentor_id", "rank"),
        CheckConstraint("rank >= 1", name="rank_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.matching_round.id", ondelete="CASCADE"))
    mentor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.mentor.person_id"))
    need_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.need.id"))
    rank: Mapped[int] = mapped_column(Integer)
    entered_by: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
