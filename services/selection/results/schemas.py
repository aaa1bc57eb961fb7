"""Request and response bodies of the results API."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field

from services.selection.models import Discipline
from services.selection.results.models import Outcome
from shared.strict import RequestModel

Text = Annotated[str, Field(min_length=3, max_length=4000)]


class DecisionIn(RequestModel):
    outcome: Outcome
    reason: Text | None = Field(default=None, description="Required when the outcome differs from the ranking's proposal.")


class ObjectionIn(RequestModel):
    reason: Text


class AnswerIn(RequestModel):
    answer: Text


class StageLine(BaseModel):
    stage: str
    state: str = Field(description="scored, absent, exempt or missing.")
    raw: Decimal | None = Field(description="The score as entered (the interview: the panel's mean rubric total).")
    value: Decimal | None = Field(description=(
        "On 0-100, what the composite counts: the test scaled; the interview corrected for the experts' severity, "
        "or the score staff set when they adjudicated."
    ))
    correction: Decimal | None = Field(default=None, description="Interview only: the severity correction (corrected minus raw).")
    adjudicated: Decimal | None = Field(default=None, description=(
        "Interview only: the score staff set after the panel disagreed, counted in place of the corrected one."
    ))
    weight: int
    counted: bool = Field(description="Whether it made the composite (an exempt stage does not).")


class Standing(BaseModel):
    candidate_id: uuid.UUID
    discipline: Discipline
    rank: int
    composite: Decimal | None = Field(description="None when a weighted stage is absent or missing: ranked last.")
    proposal: Outcome
    stages: list[StageLine]
    decision: Outcome | None
    against_ranking: bool | None
    reason: str | None


class DecisionOut(BaseModel):
    candidate_id: uuid.UUID
    outcome: Outcome
    proposal: Outcome
    rank: int
    composite: Decimal | None
    against_ranking: bool
    reason: str | None
    decided_by: str
    decided_at: datetime


class PublishedLine(BaseModel):
    candidate_id: uuid.UUID
    name: str = Field(description="Masked: 张*明.")
    school: str | None
    discipline: Discipline


class ObjectionOut(BaseModel):
    id: uuid.UUID
    candidate_id: uuid.UUID
    objector_id: str
    reason: str
    created_at: datetime
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None


class Explanation(BaseModel):
    """How the result was reached (PIPL art. 24): every step, with the numbers."""

    candidate_id: uuid.UUID
    discipline: Discipline
    stages: list[StageLine]
    composite: Decimal | None
    rank: int
    candidates: int = Field(description="Candidates ranked in the discipline.")
    quota: int
    cut_off: Decimal | None = Field(description="The composite of the last candidate the ranking proposed to admit.")
    proposal: Outcome
    outcome: Outcome | None
    reason: str | None = Field(description="Staff's reason, when the outcome differs from the proposal.")
    method: str = Field(description="How the composite and the ranking are made, in words.")
