"""Selection's events (source "selection"): the results, once final, and the campaign's own timers.

`selection.candidate.admitted`, `.waitlisted` and `.rejected` go out once per candidate when
the campaign becomes final (after publication, the objection window closed and every
objection answered), subject the student's id. Mentoring and tracking take in the admitted:
a student joins the programme for the discipline, in the cohort of the campaign's year, at
the school stage their grade puts them in. The payload carries no name.

`selection.stage.deadline` is a timer: published with `available_at` at the deadline staff
set for a stage, consumed by selection itself, which closes the stage if the campaign is
still in it and the deadline is still the one set (a moved deadline leaves the old timer
without effect). Publishing the results sets the publication stage's deadline to the end of
the objection window, so that window closes by the same timer.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.events.contracts import EventContract, contract

SOURCE = "selection"

Discipline = Literal["math", "physics", "chemistry", "biology", "computer_science"]
SchoolStage = Literal["primary", "middle", "high"]
Outcome = Literal["admitted", "waitlisted", "rejected"]


def school_stage(grade: int) -> SchoolStage:
    """Grades 1-6 are primary school, 7-9 middle school, 10-12 high school."""
    return "primary" if grade <= 6 else "middle" if grade <= 9 else "high"


class CandidateResult(EventContract):
    candidate_id: uuid.UUID
    campaign_id: uuid.UUID
    student_id: uuid.UUID
    discipline: Discipline
    cohort_year: int = Field(description="The campaign's year: the cohort the student joins.")
    school_id: uuid.UUID
    grade: int = Field(ge=1, le=12)
    stage: SchoolStage = Field(description="The school stage of the student's grade when nominated.")
    rank: int | None = Field(default=None, ge=1, description="The candidate's rank in the discipline; none when unranked.")
    decided_at: datetime


@contract("selection.candidate.admitted", 1)
class CandidateAdmitted(CandidateResult):
    """The student is admitted to the programme in this discipline."""


@contract("selection.candidate.waitlisted", 1)
class CandidateWaitlisted(CandidateResult):
    """The student is on the discipline's waiting list."""


@contract("selection.candidate.rejected", 1)
class CandidateRejected(CandidateResult):
    """The student is not admitted."""


OUTCOME_EVENTS: dict[Outcome, str] = {
    "admitted": "selection.candidate.admitted",
    "waitlisted": "selection.candidate.waitlisted",
    "rejected": "selection.candidate.rejected",
}


@contract("selection.stage.deadline", 1)
class StageDeadline(EventContract):
    """Timer: the deadline of `stage` in `campaign_id` is `closes_at`."""

    campaign_id: uuid.UUID
    stage: str
    closes_at: datetime
