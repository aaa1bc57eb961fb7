"""Lectures by scientists and engineers at the pilot base, and the students registered for them.

A lecture has a speaker (a name, and the registered mentor when one gives it), their
organisation, a place at the base and a capacity. Students take its places up to the capacity;
a registration is registered until the student cancels it (before the lecture starts, which
frees the place), the lecture is cancelled, or the student exits the programme; after the
lecture starts, staff or the speaker mark it attended or absent.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.mentoring.db import SCHEMA, Base, chain
from shared.db import value_enum

MAX_CAPACITY = 2000


class LectureStatus(StrEnum):
    scheduled = "scheduled"
    cancelled = "cancelled"


class Lecture(Base):
    """One lecture. `version` is raised by every change (its ETag: a change needs If-Match)."""

    __tablename__ = "lecture"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint(f"capacity BETWEEN 1 AND {MAX_CAPACITY}", name="capacity_range"),
        Index("ix_lecture_starts", "starts_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    abstract: Mapped[str] = mapped_column(String(4000))
    speaker_name: Mapped[str] = mapped_column(String(200))
    # The registered mentor who gives it, if one does: they see its registrations and mark attendance.
    speaker_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(f"{SCHEMA}.mentor.person_id"))
    organisation: Mapped[str] = mapped_column(String(200))
    disciplines: Mapped[list[str]] = mapped_column(ARRAY(String(30)))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    place: Mapped[str] = mapped_column(String(200))
    capacity: Mapped[int] = mapped_column(Integer)
    status: Mapped[LectureStatus] = mapped_column(value_enum(LectureStatus, "lecture_status", SCHEMA))
    cancel_reason: Mapped[str | None] = mapped_column(String(2000))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}


chain.track(Lecture.__table__, [
    "title", "abstract", "speaker_name", "speaker_id", "organisation", "disciplines", "starts_at", "ends_at", "place", "capacity",
    "status", "cancel_reason",
])


class RegistrationStatus(StrEnum):
    registered = "registered"  # holds a place
    cancelled = "cancelled"  # by the student, a guardian or staff, the lecture's cancellation, or the student's exit
    attended = "attended"
    absent = "absent"


# The registrations that hold a place.
HOLDING = (RegistrationStatus.registered, RegistrationStatus.attended, RegistrationStatus.absent)


class LectureRegistration(Base):
    """A student's place at a lecture. At most one that is not cancelled per student and lecture."""

    __tablename__ = "lecture_registration"
    __table_args__ = (
        Index("uq_lecture_registration_holding", "lecture_id", "student_id", unique=True, postgresql_where=text("status <> 'cancelled'")),
        Index("ix_lecture_registration_lecture", "lecture_id", "status"),
        Index("ix_lecture_registration_student", "student_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    lecture_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.lecture.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    status: Mapped[RegistrationStatus] = mapped_column(value_enum(RegistrationStatus, "lecture_registration_status", SCHEMA))
    registered_by: Mapped[str] = mapped_column(String(100))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str | None] = mapped_column(String(100))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    marked_by: Mapped[str | None] = mapped_column(String(100))
    marked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


chain.track(LectureRegistration.__table__, ["lecture_id", "student_id", "status", "cancelled_at", "cancel_reason", "marked_by", "marked_at"])
