"""Request and response bodies of the rounds API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from services.mentoring.models import DefaultOrder, Discipline, NeedKind
from shared.strict import RequestModel, name_type


class RoundIn(RequestModel):
    kind: NeedKind = Field(description="lab: students rank lab mentors, then a stable matching; life: a load-balanced run, no preferences.")
    cohort_year: int = Field(ge=2000, le=2100, description="The admissions of this campaign year take part.")
    title: name_type(200)  # type: ignore[valid-type]
    opens_at: datetime = Field(description="When students may start ranking mentors (with a time zone).")
    closes_at: datetime = Field(description="When the preferences close; after it, staff draft the run.")
    default_order: DefaultOrder = Field(
        default=DefaultOrder.selection_rank,
        description="How a mentor who has not ranked their applicants takes them: by admission rank, by grade, or first admitted.",
    )


class RoundOut(BaseModel):
    id: uuid.UUID
    kind: NeedKind
    cohort_year: int
    title: str
    opens_at: datetime
    closes_at: datetime
    default_order: DefaultOrder
    created_at: datetime


class PreferencesIn(RequestModel):
    mentors: list[uuid.UUID] = Field(max_length=10, description="Lab mentors, first choice first; an empty list withdraws the preferences.")


class Ranked(BaseModel):
    mentor_id: uuid.UUID
    display_name: str | None
    rank: int


class PreferencesOut(BaseModel):
    round_id: uuid.UUID
    need_id: uuid.UUID
    student_id: uuid.UUID
    discipline: Discipline | None
    mentors: list[Ranked]


class PreferenceRow(BaseModel):
    """One place of one student's list (a mentor sees only the places that name them)."""

    id: uuid.UUID
    need_id: uuid.UUID
    student_id: uuid.UUID
    mentor_id: uuid.UUID
    rank: int
    entered_at: datetime
