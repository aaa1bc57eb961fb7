"""Request and response bodies of the projects and defenses API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from services.mentoring.projects.models import DefenseResult, Review
from shared.disciplines import Discipline
from shared.rubrics import Rubric, RubricShape
from shared.strict import NAME_PATTERN, Reason, RequestModel, name_type

Title = name_type(200)
# A person's writing (an abstract, a description, a submission): the spaces around it dropped, not all spaces.
Writing = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000, pattern=NAME_PATTERN)]
HttpsLink = Annotated[str, StringConstraints(max_length=500, pattern=r"^https://[^\s/?#]+\.[^\s/?#]+[^\s]*$")]


class ProjectIn(RequestModel):
    title: Title
    abstract: Writing
    discipline: Discipline
    mentor_id: uuid.UUID | None = Field(default=None, description="The lab mentor; a mentor creating their own project may leave it out.")
    members: list[uuid.UUID] = Field(min_length=1, max_length=6, description="1 to 6 students, each the mentor's lab mentee in the discipline.")


class ProjectOut(BaseModel):
    id: uuid.UUID
    title: str
    abstract: str
    discipline: Discipline
    mentor_id: uuid.UUID
    members: list[uuid.UUID]
    created_at: datetime


class MilestoneIn(RequestModel):
    title: Title
    due_at: AwareDatetime = Field(description="With its zone; in the future. The reminder goes out 72 hours before (at once when nearer).")
    description: Writing


class MilestoneChange(RequestModel):
    title: Title | None = None
    due_at: AwareDatetime | None = Field(default=None, description="A new due date: the old reminder no longer applies, a new one is set.")
    description: Writing | None = None


class MilestoneOut(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    title: str
    description: str
    due_at: datetime
    reminded_at: datetime | None = Field(description="When the due-date reminder went out for the current due date; null until then.")
    set_at: datetime


class SubmissionIn(RequestModel):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000, pattern=NAME_PATTERN)]
    link: HttpsLink | None = Field(default=None, description="An https address of the work (a repository, a document).")


class SubmissionOut(BaseModel):
    id: uuid.UUID
    milestone_id: uuid.UUID
    student_id: uuid.UUID
    text: str
    link: str | None
    late: bool = Field(description="Handed in after the milestone's due date.")
    latest: bool = Field(description="The milestone's latest submission: the one that counts.")
    submitted_at: datetime
    review: Review | None
    review_note: str | None
    reviewed_at: datetime | None


class ReviewIn(RequestModel):
    review: Review
    note: Reason | None = Field(default=None, description="What to revise, or what was good; kept on the record.")


class DefenseIn(RequestModel):
    starts_at: AwareDatetime = Field(description="With its zone; in the future.")
    place: Title
    rubric: RubricShape
    pass_mark: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=100)] = Field(
        description="The mean of the judges' weighted totals (0-100) at or above which the project passes.")


class PanelIn(RequestModel):
    judges: list[uuid.UUID] | None = Field(default=None, min_length=3, max_length=7,
                                           description="Name the judges (3 to 7 registered research (lab) mentors); or leave out and give `size` (one of the two).")
    size: Annotated[int, Field(ge=3, le=7)] | None = Field(default=None, description="Have the service propose a panel of this size.")


class DefenseOut(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    starts_at: datetime
    place: str
    rubric: Rubric
    pass_mark: float
    judges: list[uuid.UUID]
    scheduled_at: datetime
    result: DefenseResult | None = Field(description="Null until staff decide.")
    score: float | None = Field(description="The mean of the judges' weighted totals, 0-100; null until decided.")
    note: str | None = Field(description="Staff's note with the decision (shown to who may see the students' records).")
    decided_at: datetime | None


class ScoresIn(RequestModel):
    scores: dict[str, Any] = Field(max_length=30, description="Every criterion of the defense's rubric, by key, on its scale.")


class ScoreOut(BaseModel):
    defense_id: uuid.UUID
    mentor_id: uuid.UUID
    scores: dict[str, Any]
    total: float = Field(description="The rubric's weighted total, 0-100.")
    submitted_at: datetime


class DecisionIn(RequestModel):
    note: Reason | None = None
