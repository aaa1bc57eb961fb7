"""Attendance per meeting and final results per student of a section.

`Attendance` is one row per meeting and confirmed student (present, late, absent, excused),
written by the section's teacher or staff once the meeting has started and changed in place
(each change on the chain). `Result` is one final result per section and student: pass or
fail, or a grade 0-100 (two places) whose outcome follows from `PASS_GRADE`; `exam_waived`
marks a student whose final exam of the section was waived (免考) when it was recorded. A
passing result writes the student's `Completion` of the course (basis "result"); a correction
(a different result for the same student) carries its reason, kept on the row and the chain.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.courses.db import SCHEMA, Base, chain
from shared.db import value_enum

# A graded result passes at this grade or above (out of 100).
PASS_GRADE = Decimal("60")
MAX_ATTENDANCE = 2000  # students in one attendance body


class AttendanceStatus(StrEnum):
    present = "present"
    late = "late"
    absent = "absent"
    excused = "excused"  # absent with the teacher's leave (sick, a competition)


class Attendance(Base):
    """A confirmed student's attendance at one meeting of the section."""

    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("meeting_id", "student_id"),
        Index("ix_attendance_section", "section_id", "student_id"),
        Index("ix_attendance_student", "student_id", "recorded_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # No cascade: the catalogue refuses to replace meetings that hold attendance.
    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.section_meeting.id"))
    section_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.section.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    status: Mapped[AttendanceStatus] = mapped_column(value_enum(AttendanceStatus, "attendance_status", SCHEMA))
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(Attendance.__table__, ["meeting_id", "section_id", "student_id", "status", "recorded_by", "recorded_at"])


class ResultOutcome(StrEnum):
    pass_ = "pass"
    fail = "fail"


class Result(Base):
    """A student's final result in a section: one per section and student."""

    __tablename__ = "result"
    __table_args__ = (
        UniqueConstraint("section_id", "student_id"),
        Index("ix_result_student", "student_id", "recorded_at", "id"),
        CheckConstraint("grade IS NULL OR grade BETWEEN 0 AND 100", name="grade_range"),
        CheckConstraint("grade IS NULL OR (grade >= 60) = (outcome = 'pass')", name="grade_decides_outcome"),
        CheckConstraint("(corrections = 0) = (correction_reason IS NULL)", name="corrected_with_reason"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    section_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.section.id"))
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.course.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    outcome: Mapped[ResultOutcome] = mapped_column(value_enum(ResultOutcome, "result_outcome", SCHEMA))
    grade: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    exam_waived: Mapped[bool] = mapped_column(Boolean)  # 免考: the student's final exam of the section was waived
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    corrections: Mapped[int] = mapped_column(Integer, default=0)
    correction_reason: Mapped[str | None] = mapped_column(String(2000))  # the last correction's


chain.track(Result.__table__, [
    "section_id", "course_id", "student_id", "outcome", "grade", "exam_waived", "recorded_by", "recorded_at", "corrections",
    "correction_reason",
])
