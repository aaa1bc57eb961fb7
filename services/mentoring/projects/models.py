"""Research projects and their defenses (项目答辩): members, milestones, submissions, the defense panel and its scores.

A project belongs to one lab mentor and one discipline; its members (1 to 6 students) are
that mentor's lab mentees in that discipline. The mentor (or staff) sets milestones with due
dates; a member hands in work against a milestone as often as needed (every submission is
kept, the latest counts) and the mentor reviews it. Staff schedule a defense with a rubric
(shared/rubrics) and a pass mark, and name its panel of 3 to 7 judges from the mentors' registry;
each judge scores on the rubric, and staff decide once every judge has.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.mentoring.db import SCHEMA, Base, chain
from shared.db import value_enum
from shared.disciplines import Discipline


class Project(Base):
    """A research project led by a lab mentor in one discipline."""

    __tablename__ = "project"
    __table_args__ = (Index("ix_project_mentor", "mentor_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    abstract: Mapped[str] = mapped_column(String(4000))
    discipline: Mapped[Discipline] = mapped_column(value_enum(Discipline, "discipline", SCHEMA))
    mentor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.mentor.person_id"))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(Project.__table__, ["title", "abstract", "discipline", "mentor_id", "created_by", "created_at"])


class ProjectMember(Base):
    """A student on a project, through their lab mentorship with the project's mentor."""

    __tablename__ = "project_member"
    __table_args__ = (UniqueConstraint("project_id", "student_id"), Index("ix_project_member_student", "student_id"))

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.project.id", ondelete="CASCADE"))
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    mentorship_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.mentorship.id"))


chain.track(ProjectMember.__table__, ["project_id", "student_id", "mentorship_id"])


class Milestone(Base):
    """A step of a project, due at `due_at`. `reminded_at` is when its due-date reminder went out
    (the timer `mentoring.milestone.due`); moving the due date clears it, and the old timer finds
    itself stale."""

    __tablename__ = "milestone"
    __table_args__ = (Index("ix_milestone_project", "project_id", "due_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.project.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(4000))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(Milestone.__table__, ["project_id", "title", "description", "due_at", "reminded_at", "set_by", "set_at"])


class Review(StrEnum):
    accepted = "accepted"
    needs_revision = "needs_revision"


class Submission(Base):
    """A member's work against a milestone: a text and optionally an https link. Every one is
    kept; the milestone's latest is the one that counts and the one the mentor reviews."""

    __tablename__ = "submission"
    __table_args__ = (
        UniqueConstraint("milestone_id", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint("(review IS NULL) = (reviewed_at IS NULL)", name="review_complete"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    milestone_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.milestone.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1 for the milestone's first submission; the highest counts
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    text: Mapped[str] = mapped_column(String(8000))
    link: Mapped[str | None] = mapped_column(String(500))
    late: Mapped[bool] = mapped_column(Boolean)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    review: Mapped[Review | None] = mapped_column(value_enum(Review, "submission_review", SCHEMA))
    review_note: Mapped[str | None] = mapped_column(String(2000))
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


chain.track(Submission.__table__, ["milestone_id", "number", "student_id", "text", "link", "late", "submitted_at", "review", "review_note",
                                   "reviewed_by", "reviewed_at"])


class DefenseResult(StrEnum):
    passed = "passed"
    failed = "failed"


class Defense(Base):
    """A project's defense: when and where, the rubric its judges score on (shared/rubrics.Rubric as
    JSON) and the pass mark (0-100, on the mean of the judges' weighted totals). Decided once:
    `result`, `score` (that mean), `note`. A project has at most one undecided defense."""

    __tablename__ = "defense"
    __table_args__ = (
        Index("uq_defense_open", "project_id", unique=True, postgresql_where=text("decided_at IS NULL")),
        CheckConstraint("pass_mark BETWEEN 0 AND 100", name="pass_mark_range"),
        CheckConstraint("(result IS NULL) = (decided_at IS NULL)", name="decision_complete"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.project.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    place: Mapped[str] = mapped_column(String(200))
    rubric: Mapped[dict[str, Any]] = mapped_column(JSONB)
    pass_mark: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    scheduled_by: Mapped[str] = mapped_column(String(100))
    scheduled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    result: Mapped[DefenseResult | None] = mapped_column(value_enum(DefenseResult, "defense_result", SCHEMA))
    score: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    note: Mapped[str | None] = mapped_column(String(2000))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


chain.track(Defense.__table__, ["project_id", "starts_at", "place", "rubric", "pass_mark", "scheduled_by", "result", "score", "note",
                                "decided_by", "decided_at"])


class Judge(Base):
    """A registered mentor on a defense's panel."""

    __tablename__ = "defense_judge"
    __table_args__ = (UniqueConstraint("defense_id", "mentor_id"), Index("ix_defense_judge_mentor", "mentor_id"))

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    defense_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.defense.id", ondelete="CASCADE"))
    mentor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.mentor.person_id"))
    assigned_by: Mapped[str] = mapped_column(String(100))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(Judge.__table__, ["defense_id", "mentor_id", "assigned_by", "assigned_at"])


class DefenseScore(Base):
    """One judge's scores on the defense's rubric, as given, and their weighted total (0-100)."""

    __tablename__ = "defense_score"
    __table_args__ = (UniqueConstraint("defense_id", "mentor_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    defense_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.defense.id", ondelete="CASCADE"))
    mentor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.mentor.person_id"))
    scores: Mapped[dict[str, Any]] = mapped_column(JSONB)
    total: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(DefenseScore.__table__, ["defense_id", "mentor_id", "scores", "total", "submitted_at"])
