"""Request and response bodies of the attendance and results API."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, WithJsonSchema

from services.courses.results.models import MAX_ATTENDANCE, PASS_GRADE, AttendanceStatus, ResultOutcome
from shared.strict import Reason, RequestModel

STATUSES = [s.value for s in AttendanceStatus]
# A JSON number (the schema says so; a numeric string is still read), two places at most.
Grade = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2),
                  WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100, "multipleOf": 0.01})]


class AttendanceEntryIn(RequestModel):
    student_id: uuid.UUID
    # A string checked by the service, so an unknown status is refused with its own code
    # (courses_attendance_status_unknown); the schema still lists the values.
    status: str = Field(max_length=40, description=f"One of {', '.join(STATUSES)}.", json_schema_extra={"enum": STATUSES})


class AttendanceIn(RequestModel):
    """The attendance of some (or all) of the section's confirmed students at one meeting: each
    student once. Students left out keep what they have; sending the same body again changes nothing."""

    students: list[AttendanceEntryIn] = Field(min_length=1, max_length=MAX_ATTENDANCE)


class AttendanceOut(BaseModel):
    id: uuid.UUID
    meeting_id: uuid.UUID
    section_id: uuid.UUID
    student_id: uuid.UUID
    display_name: str | None
    status: AttendanceStatus
    meeting_starts_at: datetime
    recorded_at: datetime


class ResultIn(RequestModel):
    """A final result: `outcome`, or a `grade` (its outcome follows: pass at 60 or above), or both agreeing."""

    outcome: ResultOutcome | None = Field(default=None, description="pass or fail (leave it out when a grade is given).")
    grade: Grade | None = Field(default=None, description=f"0 to 100, at most two decimal places; {PASS_GRADE} or above passes.")
    reason: Reason | None = Field(default=None, description="Why a recorded result is corrected: required for a correction.")


class ResultOut(BaseModel):
    id: uuid.UUID
    section_id: uuid.UUID
    course_id: uuid.UUID
    student_id: uuid.UUID
    display_name: str | None
    outcome: ResultOutcome
    grade: Decimal | None
    exam_waived: bool = Field(description="The student's final exam of the section was waived (免考) when the result was recorded.")
    completed: bool = Field(description="The course is completed by this result (a pass): a prerequisite met.")
    recorded_at: datetime
    corrections: int = Field(description="How many times the result was corrected.")
    correction_reason: str | None = Field(description="The last correction's reason.")
