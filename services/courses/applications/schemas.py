"""Request and response bodies of the exemptions and grade-skip API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from services.courses.applications.models import (
    MAX_LINKS, Applicant, ApplicationStatus, EvidenceKind, ExemptionKind, Level, Outcome,
)
from shared.strict import Reason, RequestModel, name_type

# An https address with a host, no spaces: evidence is linked, never uploaded here.
Link = Annotated[str, StringConstraints(max_length=500, pattern=r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s\u0000]*)?$")]
Grade = Annotated[int, Field(ge=1, le=12)]

class EvidenceIn(RequestModel):
    evidence_kind: EvidenceKind = Field(description="prior_result, competition_award or other.")
    evidence: name_type(2000) = Field(description="What it is, e.g. 2026 全国中学生数学奥林匹克竞赛（福建赛区）一等奖.")  # type: ignore[valid-type]
    links: list[Link] = Field(default_factory=list, max_length=MAX_LINKS,
                              description=f"Up to {MAX_LINKS} https addresses where it can be checked (a certificate, a results page).")

class ExemptionIn(EvidenceIn):
    student_id: uuid.UUID | None = Field(default=None, description="The student (a student may leave it out for themself; a guardian names their child).")
    course_id: uuid.UUID
    kind: ExemptionKind = Field(description="course (免修: the course counts as completed) or exam (免考: the final exam of `section_id` is waived).")
    section_id: uuid.UUID | None = Field(default=None, description="The course's section whose final exam is waived: with kind exam only.")

class GradeSkipIn(EvidenceIn):
    student_id: uuid.UUID | None = Field(default=None, description="The student (a student may leave it out for themself; a guardian names their child).")
    to_grade: Grade = Field(description="The grade asked for: above the student's grade now, 1 to 12.")

class ExemptionDecisionIn(RequestModel):
    outcome: Outcome = Field(description="approved (a course exemption writes the completion; an exam exemption waives the exam) or refused.")
    reason: Reason = Field(description="Why, in words the applicant is shown.")

class GradeSkipDecisionIn(RequestModel):
    level: Level = Field(description="The level decided at: coordinator (the student's school's), staff, then admin, in this order.")
    outcome: Outcome = Field(description="approved passes it to the next level (the last grants it); refused ends it.")
    reason: Reason = Field(description="Why, in words the applicant is shown.")

class ExemptionOut(BaseModel):
    id: uuid.UUID
    student_id: uuid.UUID
    display_name: str | None
    course_id: uuid.UUID
    kind: ExemptionKind
    section_id: uuid.UUID | None
    evidence_kind: EvidenceKind
    evidence: str
    links: list[str]
    status: ApplicationStatus
    applicant: Applicant
    applied_at: datetime
    decided_at: datetime | None
    decision_reason: str | None
    withdrawn_at: datetime | None

class DecisionOut(BaseModel):
    level: Level
    outcome: Outcome
    reason: str
    decided_by: str
    decided_at: datetime

class GradeSkipOut(BaseModel):
    id: uuid.UUID
    student_id: uuid.UUID
    display_name: str | None
    from_grade: int
    to_grade: int
    evidence_kind: EvidenceKind
    evidence: str
    links: list[str]
    status: ApplicationStatus
    waiting_for: Level | None = Field(description="The level whose decision it waits for while pending.")
    applicant: Applicant
    applied_at: datetime
    decided_at: datetime | None = Field(description="When it was granted (the admin's approval) or refused.")
    withdrawn_at: datetime | None
    decisions: list[DecisionOut] = Field(description="The levels' decisions so far, in order.")
