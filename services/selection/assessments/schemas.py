"""Request and response bodies of the assessment API."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from services.selection.models import ScoreState
from shared.strict import RequestModel


class TestStage(StrEnum):
    iq_test = "iq_test"
    written_test = "written_test"


class ScoreIn(RequestModel):
    state: ScoreState = Field(default=ScoreState.scored, description="`absent` (did not sit it) and `exempt` (excused) take no score: they are not zeros.")
    score: float | None = Field(default=None, allow_inf_nan=False, description="Within the campaign's scale of the stage; kept to two decimals.")
    remark: Annotated[str, Field(max_length=200)] | None = None


class ScoreOut(BaseModel):
    candidate_id: uuid.UUID
    stage: TestStage
    state: ScoreState
    score: Decimal | None
    remark: str | None
    entered_by: str
    entered_at: datetime


class UploadReport(BaseModel):
    taken: int = Field(description="Rows written: every row of the file (a file with any bad row is refused whole).")
    by_state: dict[str, int]
