"""Request and response bodies of the experts API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from services.selection.models import Discipline
from services.selection.panels.models import ExpertType
from shared.strict import RequestModel, name_type


class ExpertIn(RequestModel):
    type: ExpertType
    disciplines: list[Discipline] = Field(min_length=1, max_length=len(Discipline), description="Each at most once.")
    affiliation: name_type(200) = Field(description="e.g. 厦门大学数学科学学院")  # type: ignore[valid-type]
    max_load: int = Field(ge=1, le=10_000, description="The most interview candidates this expert takes in a campaign.")
    active: bool = True


class ExpertOut(BaseModel):
    person_id: uuid.UUID
    display_name: str | None
    type: ExpertType
    disciplines: list[str]
    affiliation: str
    school_id: uuid.UUID | None = Field(description="The directory's school of the expert (a principal's): its students are conflicts.")
    partner_id: uuid.UUID | None
    max_load: int
    active: bool
    updated_at: datetime


class Panel(BaseModel):
    candidate_id: uuid.UUID
    discipline: Discipline
    experts: list[uuid.UUID]


class PanelsOut(BaseModel):
    """An assignment: every candidate's panel and what it achieves."""

    saved: bool = Field(description="False for a preview: nothing was stored.")
    panels: list[Panel]
    loads: dict[str, int] = Field(description="Candidates per expert, every active expert listed.")
    spread: int = Field(description=(
        "Largest load minus the smallest among experts who could still take a candidate (below their maximum, "
        "and not conflicted with every candidate they lack): 0 or 1 is as even as possible."
    ))
    mixed_panels: int = Field(description="Panels with as many expert types as the pool allows.")
    fitting_panels: int = Field(description="Panels whose every expert covers the candidate's discipline.")


Reason = Annotated[str, Field(min_length=3, max_length=2000)]


class PanelChangeIn(RequestModel):
    """Replace one expert of a saved panel by another."""

    remove: uuid.UUID = Field(description="The expert who leaves the panel. A score they gave stays on record but no longer counts.")
    add: uuid.UUID = Field(description="The expert who joins it: active, without a conflict, below their maximum load.")
    reason: Reason


class AdjudicationIn(RequestModel):
    score: float | None = Field(
        ge=0, le=100,
        description="The interview score (0-100) staff set in place of the panel's; null: the panel's corrected score stands.",
    )
    reason: Reason


class AdjudicationOut(BaseModel):
    candidate_id: uuid.UUID
    score: float | None
    reason: str
    decided_by: str
    decided_at: datetime


class ScoresIn(RequestModel):
    scores: dict[str, float] = Field(description="Every criterion of the discipline's rubric, by key, on its scale.", max_length=30)


class InterviewScoreOut(BaseModel):
    candidate_id: uuid.UUID
    expert_id: uuid.UUID
    scores: dict[str, float]
    total: float = Field(description="The rubric's weighted total, 0-100.")
    submitted_at: datetime


class Assigned(BaseModel):
    candidate_id: uuid.UUID
    campaign_id: uuid.UUID
    discipline: Discipline
    display_name: str | None
    submitted: bool = Field(description="Whether you have scored this candidate.")


class ExpertEffect(BaseModel):
    expert_id: uuid.UUID
    severity: float = Field(description="Points below the average expert this expert gives (positive: severe).")
    severity_se: float | None
    scores: int


class CandidateCorrection(BaseModel):
    candidate_id: uuid.UUID
    raw_mean: float
    corrected: float
    correction: float
    raters: int
    flagged: bool = Field(description="The panel's totals differ by more than the threshold: staff adjudicate.")
    adjudicated: bool = Field(description="Staff have ruled on the disagreement.")
    adjudicated_score: float | None = Field(description="The score staff set in place of the corrected one, if they set one.")


class PanelAgreement(BaseModel):
    """The candidates interviewed by the same experts, and how far those experts agree on them."""

    experts: list[uuid.UUID]
    candidates: int
    alpha: float | None = Field(description="Krippendorff's alpha (interval); None when undefined (one candidate, or no spread).")


class InterviewReport(BaseModel):
    """The rater-effects fit (score = candidate + expert + noise, least squares over every score of
    the campaign, so experts who never shared a candidate are still compared through others) and
    the panels' agreement."""

    scores: int
    residual_sd: float | None
    r_squared: float | None
    components: int = Field(description="Groups of experts linked through shared candidates; severities compare within one.")
    experts: list[ExpertEffect]
    candidates: list[CandidateCorrection]
    alpha: float | None = Field(description="Krippendorff's alpha (interval) over every score of the campaign; None when undefined.")
    alpha_by_discipline: dict[str, float | None]
    alpha_by_panel: list[PanelAgreement] = Field(description="One entry per set of experts who share candidates, the largest first.")
    unadjudicated: int = Field(description="Flagged candidates (at the default threshold) staff have not yet ruled on.")
    threshold: float
