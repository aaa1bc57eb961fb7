"""Request and response bodies of the mentors API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from services.mentoring.models import Discipline, MentorKind, MentorType, NeedKind
from shared.strict import RequestModel, name_type


class Block(RequestModel):
    """A time the mentor can meet students: weekends of a term, or a vacation's days."""

    kind: Literal["weekend", "vacation"]
    starts_on: date
    ends_on: date
    note: Annotated[str, Field(max_length=200)] | None = None


class MentorIn(RequestModel):
    kind: MentorKind = Field(description="lab (research), life (life and career planning), or both.")
    type: MentorType
    affiliation: name_type(200) = Field(description="e.g. 厦门大学化学化工学院")  # type: ignore[valid-type]
    disciplines: list[Discipline] = Field(default_factory=list, max_length=len(Discipline),
                                          description="Each at most once; a lab mentor needs at least one.")
    topics: list[name_type(200)] = Field(default_factory=list, max_length=20, description="Research topics students rank by.")  # type: ignore[valid-type]
    lab_capacity: int = Field(default=0, ge=0, le=100, description="Lab mentees at once (0 unless the kind includes lab).")
    life_capacity: int = Field(default=0, ge=0, le=100, description="Life mentees at once (0 unless the kind includes life).")
    availability: list[Block] = Field(default_factory=list, max_length=100)
    active: bool = Field(default=True, description="A paused mentor keeps their mentees and takes no new ones.")


class MentorOut(BaseModel):
    person_id: uuid.UUID
    display_name: str | None
    kind: MentorKind
    type: MentorType
    affiliation: str
    school_id: uuid.UUID | None = Field(description="The directory's school of the mentor (a teacher's).")
    partner_id: uuid.UUID | None = Field(description="The directory's partner university or organisation of the mentor.")
    disciplines: list[Discipline]
    topics: list[str]
    lab_capacity: int
    life_capacity: int
    lab_mentees: int = Field(description="Lab mentorships now active or paused.")
    life_mentees: int
    availability: list[dict]
    active: bool
    updated_at: datetime


class NeedOut(BaseModel):
    id: uuid.UUID
    student_id: uuid.UUID
    display_name: str | None
    kind: NeedKind
    discipline: Discipline | None
    cohort_year: int
    school_id: uuid.UUID
    grade: int
    opened_at: datetime
    closed_at: datetime | None
    closed_reason: str | None = Field(description="exited, when the student left the programme.")
    mentor_id: uuid.UUID | None = Field(description="The mentor of the open mentorship meeting this need, if any.")
