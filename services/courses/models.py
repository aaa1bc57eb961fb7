"""The courses' catalogue: courses, terms and their blocks, sections and their meetings, and completions.

A course (basic, extended or research) in one discipline is taught in sections: each section
belongs to a term, is hosted by the pilot base, a school or a partner university (cross-school),
has a teacher, a place, a capacity and its meetings (weekend sessions and vacation blocks of the
term). `Section.taken` counts the confirmed seats and offers held, and never exceeds the capacity
(a CHECK, so no code path can oversell). A student completes a course by a final result or by an
approved exemption (免修): one `Completion` per student and course.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.courses.db import SCHEMA, Base, chain
from shared.db import value_enum
from shared.disciplines import Discipline


class CourseType(StrEnum):
    basic = "basic"
    extended = "extended"
    research = "research"


class Course(Base):
    """A course of the catalogue. `prerequisites` are other courses the student must have completed;
    `min_grade`/`max_grade` the grades that may take it (a grade prerequisite)."""

    __tablename__ = "course"
    __table_args__ = (
        CheckConstraint("min_grade BETWEEN 1 AND 12 AND max_grade BETWEEN min_grade AND 12", name="grades_range"),
        CheckConstraint("hours BETWEEN 1 AND 1000", name="hours_range"),
        CheckConstraint("level BETWEEN 1 AND 10", name="level_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    type: Mapped[CourseType] = mapped_column(value_enum(CourseType, "course_type", SCHEMA))
    discipline: Mapped[Discipline] = mapped_column(value_enum(Discipline, "discipline", SCHEMA))
    level: Mapped[int] = mapped_column(Integer)
    min_grade: Mapped[int] = mapped_column(Integer)
    max_grade: Mapped[int] = mapped_column(Integer)
    prerequisites: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    hours: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(4000))
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer)  # raised by every change: the ETag a change's If-Match names

    __mapper_args__ = {"version_id_col": version}


chain.track(Course.__table__, ["code", "title", "type", "discipline", "level", "min_grade", "max_grade", "prerequisites", "hours", "description"])


class Term(Base):
    """A term of the programme (e.g. 2027 spring): its weekend sessions and vacation blocks are `TermBlock`s."""

    __tablename__ = "term"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="term_order"),
        CheckConstraint("load_limit BETWEEN 1 AND 20", name="load_limit_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200), unique=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    load_limit: Mapped[int] = mapped_column(Integer)  # sections a student may hold in the term
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer)  # raised by every change: the ETag a change's If-Match names

    __mapper_args__ = {"version_id_col": version}


chain.track(Term.__table__, ["title", "starts_on", "ends_on", "load_limit"])


class BlockKind(StrEnum):
    weekends = "weekends"  # the term's Saturdays and Sundays between the dates
    winter = "winter"  # a winter-vacation block
    summer = "summer"  # a summer-vacation block


class TermBlock(Base):
    __tablename__ = "term_block"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="block_order"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    term_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.term.id", ondelete="CASCADE"), index=True)
    kind: Mapped[BlockKind] = mapped_column(value_enum(BlockKind, "block_kind", SCHEMA))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)


class HostKind(StrEnum):
    base = "base"  # the pilot base
    school = "school"  # another school of the city (cross-school)
    partner = "partner"  # a partner university


class Section(Base):
    """A course taught in a term, by a teacher, at a place, to at most `capacity` students.
    `taken` is the seats confirmed or held by an open offer: the one counter registration moves
    with a single conditional UPDATE (`taken < capacity`)."""

    __tablename__ = "section"
    __table_args__ = (
        CheckConstraint("capacity BETWEEN 0 AND 10000", name="capacity_range"),
        CheckConstraint("taken >= 0 AND taken <= capacity", name="never_oversold"),
        CheckConstraint("(host_kind = 'base') = (host_id IS NULL)", name="host_named"),
        UniqueConstraint("course_id", "term_id", "code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.course.id"), index=True)
    term_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.term.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))  # "A", "周六上午班"
    host_kind: Mapped[HostKind] = mapped_column(value_enum(HostKind, "host_kind", SCHEMA))
    host_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))  # the directory's school or partner
    teacher_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))  # a person of the directory
    teacher_name: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200))
    capacity: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer)  # raised by every change: the ETag a change's If-Match names

    __mapper_args__ = {"version_id_col": version}


chain.track(Section.__table__, ["course_id", "term_id", "code", "host_kind", "host_id", "teacher_id", "teacher_name", "place", "capacity"])


class SectionMeeting(Base):
    """One meeting of a section: a start and an end (aware times). Two sections conflict when a
    meeting of one overlaps a meeting of the other."""

    __tablename__ = "section_meeting"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="meeting_order"),
        Index("ix_section_meeting_time", "section_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    section_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.section.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CompletionBasis(StrEnum):
    result = "result"  # a final result of a section
    exemption = "exemption"  # an approved course exemption (免修)


class Completion(Base):
    """A student has completed a course (a prerequisite met): by a passing final result, or by
    an approved exemption. One per student and course."""

    __tablename__ = "completion"
    __table_args__ = (UniqueConstraint("student_id", "course_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.course.id"))
    basis: Mapped[CompletionBasis] = mapped_column(value_enum(CompletionBasis, "completion_basis", SCHEMA))
    section_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(f"{SCHEMA}.section.id"))
    grade: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))  # 0-100 when the result was graded
    completed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(Completion.__table__, ["student_id", "course_id", "basis", "section_id", "grade", "completed_at"])
