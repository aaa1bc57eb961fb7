"""Request and response bodies of the campaign API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from services.selection.models import Discipline, Stage
from shared.strict import RequestModel, name_type

Reason = Annotated[str, Field(min_length=3, max_length=2000, description="Why, in words people will read in the audit.")]
Weight = Annotated[int, Field(ge=0, le=100, description="A whole number, 0 to 100.")]


class Weights(RequestModel):
    """How much each stage counts in a candidate's composite, relative to the others (any scale)."""

    iq_test: Weight
    written_test: Weight
    interview: Weight


class DisciplineIn(RequestModel):
    discipline: Discipline
    quota: int = Field(ge=1, le=10_000, description="How many students the discipline admits.")
    min_grade: int = Field(ge=1, le=12, description="The lowest eligible grade (1-12; 7 is the first year of middle school).")
    max_grade: int = Field(ge=1, le=12, description="Not below `min_grade`.")
    weights: Weights = Field(description="At least one stage above 0.")


class Scale(RequestModel):
    min: int = Field(ge=0, le=1000)
    max: int = Field(ge=1, le=1000, description="Above `min`.")


class CampaignIn(RequestModel):
    year: int = Field(ge=2000, le=2100)
    title: name_type(200)  # type: ignore[valid-type]
    school_limit: int = Field(ge=1, le=10_000, description="How many students one school may recommend in the campaign, all disciplines together.")
    objection_days: int = Field(default=7, ge=1, le=60, description="How long the published list is open to objections, in days.")
    panel_size: int = Field(default=3, ge=1, le=9, description="Experts per interview candidate.")
    iq_scale: Scale = Field(default_factory=lambda: Scale(min=40, max=160))
    written_scale: Scale = Field(default_factory=lambda: Scale(min=0, max=100))
    disciplines: list[DisciplineIn] = Field(min_length=1, max_length=len(Discipline), description="Each discipline at most once.")


class DisciplinePatch(RequestModel):
    quota: int | None = Field(default=None, ge=1, le=10_000)
    weights: Weights | None = None


class AdvanceIn(RequestModel):
    to: Stage = Field(description="The next stage: stages go one at a time, in order.")
    reason: Reason | None = Field(default=None, description="Needed when the current stage's work is not complete: it is closed anyway, and the reason recorded.")


class DeadlineIn(RequestModel):
    closes_at: datetime = Field(description="When the stage stops taking work (an aware time, e.g. 2027-03-31T18:00:00+08:00).")


class DisciplineOut(BaseModel):
    discipline: Discipline
    quota: int
    min_grade: int
    max_grade: int
    weights: dict[str, int]


class ScaleOut(BaseModel):
    min: int
    max: int


class CampaignOut(BaseModel):
    id: uuid.UUID
    year: int
    title: str
    school_limit: int
    objection_days: int
    panel_size: int
    iq_scale: ScaleOut
    written_scale: ScaleOut
    stage: Stage
    stage_started_at: datetime
    stage_closed_at: datetime | None = Field(description="Set when the current stage stopped taking work (deadline or staff).")
    deadlines: dict[str, datetime]
    published_at: datetime | None
    objections_close_at: datetime | None
    disciplines: list[DisciplineOut]
    created_at: datetime


class TransitionOut(BaseModel):
    id: int
    action: str = Field(description="`advanced` (to the next stage) or `closed` (the stage stopped taking work).")
    from_stage: Stage
    to_stage: Stage
    incomplete: dict[str, int] = Field(description="What was unfinished when the stage was closed or left, by kind.")
    reason: str | None
    by: str
    at: datetime


class StageProgress(BaseModel):
    stage: Stage
    closed: bool
    complete: bool
    missing: dict[str, int] = Field(description="What the stage still lacks, by kind (empty when complete).")
