"""Students' applications: course and exam exemptions (免修/免考) and grade skips (跳级), with their decisions.

An exemption asks, with evidence, that a course be counted completed (`course`: its approval
writes the student's `Completion` with basis "exemption") or that the final exam of a section
be waived (`exam`: the approved row itself is the record registration and results read:
`exemption` where kind = 'exam' and status = 'approved', by student and section). Staff decide
it once. A grade skip asks for a higher grade and is decided at three levels in order (the
student's school's coordinator, the pilot base's staff, the bureau's admin), each decision a
`GradeSkipDecision`; the first refusal ends it, the third approval grants it. The applicant
may withdraw either while it is pending. Decided or withdrawn, an application never changes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.courses.db import SCHEMA, Base, chain
from shared.db import value_enum

MAX_LINKS = 5


class ApplicationStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    refused = "refused"
    withdrawn = "withdrawn"  # by the applicant, while pending


class EvidenceKind(StrEnum):
    prior_result = "prior_result"  # a result of the course's content elsewhere (a school exam, a summer course)
    competition_award = "competition_award"
    other = "other"


class Applicant(StrEnum):
    """Who applied: the student, or their guardian."""

    student = "student"
    guardian = "guardian"


class ExemptionKind(StrEnum):
    course = "course"  # 免修: the course counts as completed
    exam = "exam"  # 免考: the final exam of one section is waived


class Exemption(Base):
    """A course or exam exemption application. At most one pending per student and course."""

    __tablename__ = "exemption"
    __table_args__ = (
        Index("uq_exemption_pending", "student_id", "course_id", unique=True, postgresql_where=text("status = 'pending'")),
        Index("ix_exemption_student", "student_id", "course_id", "status"),
        Index("ix_exemption_applied", "applied_at", "id"),
        CheckConstraint("(kind = 'exam') = (section_id IS NOT NULL)", name="exam_names_section"),
        CheckConstraint("(status IN ('pending', 'withdrawn')) = (decided_at IS NULL)", name="decided_with_time"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.course.id"))
    kind: Mapped[ExemptionKind] = mapped_column(value_enum(ExemptionKind, "exemption_kind", SCHEMA))
    section_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(f"{SCHEMA}.section.id"))  # the exam's section
    evidence_kind: Mapped[EvidenceKind] = mapped_column(value_enum(EvidenceKind, "evidence_kind", SCHEMA))
    evidence: Mapped[str] = mapped_column(String(2000))
    links: Mapped[list[str]] = mapped_column(ARRAY(String(500)))
    status: Mapped[ApplicationStatus] = mapped_column(value_enum(ApplicationStatus, "application_status", SCHEMA))
    applicant: Mapped[Applicant] = mapped_column(value_enum(Applicant, "applicant", SCHEMA))
    applied_by: Mapped[str] = mapped_column(String(100))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(String(2000))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


chain.track(Exemption.__table__, [
    "student_id", "course_id", "kind", "section_id", "evidence_kind", "evidence", "links", "status", "applicant", "applied_by",
    "decided_by", "decided_at", "decision_reason", "withdrawn_at",
])


class Level(StrEnum):
    """The levels a grade skip is decided at, in this order."""

    coordinator = "coordinator"  # the student's school's programme coordinator
    staff = "staff"  # the pilot base's working group
    admin = "admin"  # the city bureau


LEVELS = tuple(Level)


class GradeSkip(Base):
    """A grade-skip application: from the student's grade when they applied to `to_grade`.
    `waiting_for` is the level whose decision it waits for while pending (null otherwise).
    At most one pending per student."""

    __tablename__ = "grade_skip"
    __table_args__ = (
        Index("uq_grade_skip_pending", "student_id", unique=True, postgresql_where=text("status = 'pending'")),
        Index("ix_grade_skip_waiting", "waiting_for", "applied_at", "id", postgresql_where=text("status = 'pending'")),
        Index("ix_grade_skip_applied", "applied_at", "id"),
        CheckConstraint("from_grade BETWEEN 1 AND 12 AND to_grade BETWEEN 1 AND 12 AND to_grade > from_grade", name="grades_up"),
        CheckConstraint("(status = 'pending') = (waiting_for IS NOT NULL)", name="waits_while_pending"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    from_grade: Mapped[int] = mapped_column(Integer)
    to_grade: Mapped[int] = mapped_column(Integer)
    evidence_kind: Mapped[EvidenceKind] = mapped_column(value_enum(EvidenceKind, "evidence_kind", SCHEMA))
    evidence: Mapped[str] = mapped_column(String(2000))
    links: Mapped[list[str]] = mapped_column(ARRAY(String(500)))
    status: Mapped[ApplicationStatus] = mapped_column(value_enum(ApplicationStatus, "application_status", SCHEMA))
    waiting_for: Mapped[Level | None] = mapped_column(value_enum(Level, "grade_skip_level", SCHEMA))
    applicant: Mapped[Applicant] = mapped_column(value_enum(Applicant, "applicant", SCHEMA))
    applied_by: Mapped[str] = mapped_column(String(100))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the final approval or the refusal
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


chain.track(GradeSkip.__table__, [
    "student_id", "from_grade", "to_grade", "evidence_kind", "evidence", "links", "status", "waiting_for", "applicant", "applied_by",
    "decided_at", "withdrawn_at",
])


class Outcome(StrEnum):
    approved = "approved"
    refused = "refused"


class GradeSkipDecision(Base):
    """One level's decision on a grade skip, with its reason: one per application and level."""

    __tablename__ = "grade_skip_decision"
    __table_args__ = (UniqueConstraint("grade_skip_id", "level"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    grade_skip_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.grade_skip.id"))
    level: Mapped[Level] = mapped_column(value_enum(Level, "grade_skip_level", SCHEMA))
    outcome: Mapped[Outcome] = mapped_column(value_enum(Outcome, "decision_outcome", SCHEMA))
    reason: Mapped[str] = mapped_column(String(2000))
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(GradeSkipDecision.__table__, ["grade_skip_id", "level", "outcome", "reason", "decided_by", "decided_at"])
