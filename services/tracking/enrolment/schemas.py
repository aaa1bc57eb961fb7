"""Request and response bodies of the enrolment API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from services.tracking.enrolment.models import ChangeKind, EnrolmentStatus, ExitReason, Stage
from shared.strict import RequestModel


class EnrolmentOut(BaseModel):
    student_id: uuid.UUID
    display_name: str | None
    cohort_year: int = Field(description="The year of the campaign that admitted the student (of the current stay, after a re-entry).")
    disciplines: list[str]
    stage: Stage
    grade: int
    school_id: uuid.UUID
    status: EnrolmentStatus
    candidate_id: uuid.UUID = Field(description="Selection's candidate of the admission of the current stay.")
    first_admitted_at: datetime
    entered_at: datetime = Field(description="When the current stay began: the admission, or the re-entry after an exit.")
    exit_reason: ExitReason | None
    exited_at: datetime | None
    updated_at: datetime


class EnrolmentChangeOut(BaseModel):
    id: uuid.UUID
    student_id: uuid.UUID
    kind: ChangeKind
    from_status: EnrolmentStatus | None
    to_status: EnrolmentStatus
    from_grade: int | None
    to_grade: int
    from_stage: Stage | None
    to_stage: Stage
    reason: str
    actor: str = Field(description="Who: a person's id, or the service whose event caused the change (selection, courses).")
    at: datetime
    event_id: uuid.UUID | None = Field(description="The event that caused it; null for a staff action.")
    school_year: int | None = Field(description="The school year of an advance.")


class SchoolYearIn(RequestModel):
    school_year: int = Field(ge=2000, le=2100, description="The year the school year starts in: 2027 is 2027-2028.")


class SchoolYearOut(BaseModel):
    school_year: int
    advanced: int = Field(description="Students moved up one grade.")
    graduated: int = Field(description="Students who finished grade 12.")
    run_by: str
    run_at: datetime
