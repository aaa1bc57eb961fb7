"""Request and response bodies of the nomination API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from services.selection.models import CandidateStatus, Discipline, NominationSource
from shared.strict import RequestModel, name_type


class Achievement(RequestModel):
    title: name_type(200) = Field(description="e.g. 全国青少年信息学奥林匹克联赛 一等奖")  # type: ignore[valid-type]
    year: int | None = Field(default=None, ge=2000, le=2100)
    level: Annotated[str, Field(max_length=50)] | None = Field(default=None, description="e.g. national, provincial, city, school.")


class NominationIn(RequestModel):
    source: NominationSource = Field(description="`school`: a coordinator recommends a student of their school; `self`: a student nominates themself.")
    student_id: uuid.UUID | None = Field(default=None, description="The student: required for a school's nomination; a student nominating themself may leave it out.")
    discipline: Discipline
    statement: Annotated[str, Field(min_length=10, max_length=4000, description="Why this student: the recommendation or the student's own statement.")]
    achievements: list[Achievement] = Field(default_factory=list, max_length=30)


class WithdrawIn(RequestModel):
    reason: Annotated[str, Field(min_length=3, max_length=2000)]


class NominationOut(BaseModel):
    id: uuid.UUID
    source: NominationSource
    school_id: uuid.UUID
    statement: str
    achievements: list[dict]
    nominated_by: str
    created_at: datetime


class CandidateOut(BaseModel):
    id: uuid.UUID
    campaign_id: uuid.UUID
    student_id: uuid.UUID
    display_name: str | None = Field(description="The student's name as the directory has it.")
    discipline: Discipline
    school_id: uuid.UUID
    grade: int
    status: CandidateStatus
    nominations: list[NominationOut] = Field(description="Every source of the candidacy: the school's recommendation, the student's own, or both.")
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    created_at: datetime
