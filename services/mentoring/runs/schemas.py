"""Request and response bodies of the runs API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.mentoring.runs.models import Decision, OverrideAction, RunStatus
from shared.strict import Reason, RequestModel


class OverrideIn(RequestModel):
    action: OverrideAction = Field(description="force: the pair is matched whatever the preferences say; ban: never matched.")
    reason: Reason = Field(description="Why, in words the record keeps and the student's explanation shows.")


class OverrideOut(BaseModel):
    id: uuid.UUID
    round_id: uuid.UUID
    need_id: uuid.UUID
    mentor_id: uuid.UUID
    action: OverrideAction
    reason: str
    decided_by: str
    decided_at: datetime


class GivenUp(BaseModel):
    """A blocking pair the forced pairs left: both would rather have each other than what they got."""

    need_id: uuid.UUID
    student_id: uuid.UUID
    mentor_id: uuid.UUID
    student_rank: int = Field(description="The student's rank of the mentor, 1 the first choice.")
    mentor_rank: int = Field(description="The mentor's rank of the student, 1 the first.")
    forced: bool = Field(description="The student's own pair was forced (else the mentor's place went to a forced student).")


class RunOut(BaseModel):
    id: uuid.UUID
    round_id: uuid.UUID
    number: int = Field(description="1 for the round's first run, and so on.")
    status: RunStatus
    matched: int
    unmatched: int
    given_up: list[GivenUp] = Field(description="Empty when the run is stable; a life run balances load and lists none.")
    figures: dict[str, Any] = Field(description="pool (needs placed), places (mentors' places left); a life run adds spread and loads.")
    computed_at: datetime
    published_at: datetime | None


class Passed(BaseModel):
    """A mentor the student ranked above the one they got (or any, when unmatched), and why not that one."""

    mentor_id: uuid.UUID
    student_rank: int
    reason: Literal["full", "place_forced", "not_ranked_by_mentor", "banned", "no_places"] = Field(
        description="full: with students the mentor ranks higher; place_forced: a forced pair holds the place; "
                    "not_ranked_by_mentor: the mentor's ranking leaves the student out; banned: see rule; no_places: none left.")
    rule: str | None = Field(default=None, description="For banned: a conflict of interest, staff's reason, or why the mentor is no longer eligible.")
    mentor_rank: int | None = Field(default=None, description="The mentor's rank of the student, when they ranked them.")
    last_taken_rank: int | None = Field(default=None, description="For full: the mentor's rank of the last student they took.")


class Explanation(BaseModel):
    decided_by: str = Field(description="What decided the entry, in words.")
    passed: list[Passed]


class RunEntryOut(BaseModel):
    need_id: uuid.UUID
    student_id: uuid.UUID
    mentor_id: uuid.UUID | None
    decision: Decision
    student_rank: int | None = Field(description="The student's rank of their mentor (1 the first choice); null when unranked or a life run.")
    mentor_rank: int | None = Field(description="The mentor's rank of the student, in their ranking or the default order.")
    explanation: Explanation


class RankingIn(RequestModel):
    needs: list[uuid.UUID] = Field(max_length=1000, description="The needs that listed the mentor, first choice first; empty withdraws the ranking.")


class RankingOut(BaseModel):
    round_id: uuid.UUID
    mentor_id: uuid.UUID
    needs: list[uuid.UUID] = Field(description="Ranked first to last; empty: the round's default order serves.")
