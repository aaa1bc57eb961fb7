"""Courses' events (source "courses").

`courses.grade_skip.approved` goes out once per grade-skip application, when the bureau's admin
gives the last of its three approvals (the student's school's coordinator, the pilot base's
staff, then admin): the student moves from `from_grade` (their grade when they applied) to
`to_grade`. Tracking moves the student's grade. Subject: the student's id.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from shared.events.contracts import EventContract, contract

SOURCE = "courses"


@contract("courses.grade_skip.approved", 1)
class GradeSkipApproved(EventContract):
    """A grade skip granted at all three levels."""

    application_id: uuid.UUID
    student_id: uuid.UUID
    from_grade: int = Field(ge=1, le=12)
    to_grade: int = Field(ge=1, le=12)
    approved_at: datetime
