"""Enrolment: who is in the programme, at which school stage and grade, and every change with its reason.

A student joins on `selection.candidate.admitted`: one `Enrolment` per student (a second
admission in another discipline while enrolled adds the discipline), `active` until the
tracking evaluation puts them `on_probation`, they exit (`exited`, with the exit's reason) or
they finish high school (`graduated`). A student who exited and is admitted by a later
campaign re-enters: the same row, active again, in the new campaign's cohort, with every
earlier change kept in `EnrolmentChange`.

Stage follows grade (`stage_of`): primary 1-6, middle 7-9, high 10-12. The grade moves on an
approved grade skip (`courses.grade_skip.approved`) and when staff advance the school year
(`SchoolYearAdvance`, once per school year): each student in the programme (active or on
probation) moves up one grade; one in grade 12 graduates (grade and stage stay 12 and high,
the last they were in). Each change is one `EnrolmentChange` row: what moved, why, who, when.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, Index, Integer, String
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.tracking.db import SCHEMA, Base
from shared.db import value_enum
from shared.events.contracts.selection import school_stage

GRADES = "grade BETWEEN 1 AND 12"


class Stage(StrEnum):
    primary = "primary"
    middle = "middle"
    high = "high"


def stage_of(grade: int) -> Stage:
    """Grades 1-6 are primary school, 7-9 middle school, 10-12 high school (selection's rule)."""
    return Stage(school_stage(grade))


class EnrolmentStatus(StrEnum):
    active = "active"
    on_probation = "on_probation"  # an evaluation's outcome (a later item): still in the programme
    exited = "exited"
    graduated = "graduated"  # finished grade 12 in the programme


# The students in the programme: their grade advances with the school year.
IN_PROGRAMME = (EnrolmentStatus.active, EnrolmentStatus.on_probation)


class ExitReason(StrEnum):
    """Why a student left (tracking.student.exited's `reason`)."""

    evaluation = "evaluation"
    voluntary = "voluntary"
    other = "other"


class Enrolment(Base):
    """A student's place in the programme. `entered_at`: when the current stay began (the
    admission, or the re-entry); `first_admitted_at`: the first admission ever."""

    __tablename__ = "enrolment"
    __table_args__ = (
        CheckConstraint(GRADES, name="grade_range"),
        CheckConstraint("(status = 'exited') = (exited_at IS NOT NULL AND exit_reason IS NOT NULL)", name="exit_recorded"),
        CheckConstraint("cardinality(disciplines) >= 1", name="some_discipline"),
        Index("ix_enrolment_list", "entered_at", "student_id"),
        Index("ix_enrolment_school", "school_id", "status"),
    )

    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    cohort_year: Mapped[int] = mapped_column(Integer)
    disciplines: Mapped[list[str]] = mapped_column(ARRAY(String(30)))
    stage: Mapped[Stage] = mapped_column(value_enum(Stage, "stage", SCHEMA))
    grade: Mapped[int] = mapped_column(Integer)
    school_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    status: Mapped[EnrolmentStatus] = mapped_column(value_enum(EnrolmentStatus, "enrolment_status", SCHEMA))
    candidate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))  # the admission of the current stay
    first_admitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    exit_reason: Mapped[ExitReason | None] = mapped_column(value_enum(ExitReason, "exit_reason", SCHEMA))
    exited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChangeKind(StrEnum):
    admitted = "admitted"  # joined the programme
    discipline_added = "discipline_added"  # admitted in another discipline while enrolled
    re_entered = "re_entered"  # admitted again by a later campaign after an exit
    grade_skipped = "grade_skipped"  # an approved grade skip
    year_advanced = "year_advanced"  # the school year advanced: one grade up
    graduated = "graduated"  # the school year advanced past grade 12
    status_changed = "status_changed"  # probation and back (the evaluations, a later item)
    exited = "exited"  # left the programme (exit decisions, a later item)


class EnrolmentChange(Base):
    """One change of an enrolment: the state before and after, why, who and when. `event_id`:
    the event that caused it (unique, so a redelivery changes nothing); `school_year`: the
    school year an advance belongs to."""

    __tablename__ = "enrolment_change"
    __table_args__ = (
        CheckConstraint("to_grade BETWEEN 1 AND 12 AND (from_grade IS NULL OR from_grade BETWEEN 1 AND 12)", name="grades_range"),
        Index("ix_enrolment_change_student", "student_id", "at", "id"),
        Index("uq_enrolment_change_event", "event_id", unique=True),
        Index("uq_enrolment_change_year", "student_id", "school_year", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[ChangeKind] = mapped_column(value_enum(ChangeKind, "change_kind", SCHEMA))
    from_status: Mapped[EnrolmentStatus | None] = mapped_column(value_enum(EnrolmentStatus, "enrolment_status", SCHEMA))
    to_status: Mapped[EnrolmentStatus] = mapped_column(value_enum(EnrolmentStatus, "enrolment_status", SCHEMA))
    from_grade: Mapped[int | None] = mapped_column(Integer)
    to_grade: Mapped[int] = mapped_column(Integer)
    from_stage: Mapped[Stage | None] = mapped_column(value_enum(Stage, "stage", SCHEMA))
    to_stage: Mapped[Stage] = mapped_column(value_enum(Stage, "stage", SCHEMA))
    reason: Mapped[str] = mapped_column(String(2000))
    actor: Mapped[str] = mapped_column(String(100))  # a person's id, or the service whose event it was
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    school_year: Mapped[int | None] = mapped_column(Integer)


class SchoolYearAdvance(Base):
    """Staff advanced the school year `school_year` (the year it starts in: 2027 is 2027-2028), once."""

    __tablename__ = "school_year_advance"
    __table_args__ = (CheckConstraint("school_year BETWEEN 2000 AND 2100", name="school_year_range"),)

    school_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    advanced: Mapped[int] = mapped_column(Integer)  # students moved up one grade
    graduated: Mapped[int] = mapped_column(Integer)  # students who finished grade 12
    run_by: Mapped[str] = mapped_column(String(100))
    run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
