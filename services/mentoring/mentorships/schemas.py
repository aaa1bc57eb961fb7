"""Request and response bodies of the mentorships API.

Free text about a student (a meeting's notes, a pause's or a request's reason, staff's note, a
goal update's note) is null in an answer to anyone who may not read it: see `reads_notes` in service.py.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from services.mentoring.models import Discipline, MentorshipStatus, NeedKind
from services.mentoring.mentorships.models import GoalStatus, RequestKind, RequestStatus, Side
from shared.strict import Reason, RequestModel, name_type

Topic = name_type(200)
Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Minutes = Annotated[int, Field(ge=1, le=600, description="How long the meeting was, 1 to 600 minutes.")]
HeldOn = Annotated[date, Field(description="The day it was held: not in the future (Beijing time), not before the mentorship began.")]


class ReasonIn(RequestModel):
    reason: Reason = Field(description="Why, in words the record keeps.")


class RequestIn(RequestModel):
    kind: RequestKind = Field(description="end: the mentorship ends; rematch: it ends and the next runs never pair the two again.")
    reason: Reason = Field(description="Why, in the asker's words; read by staff, the two and the guardian.")


class DecisionIn(RequestModel):
    outcome: Literal["approved", "declined"] = Field(description="approved ends the mentorship; declined leaves it as it is.")
    note: Reason = Field(description="Staff's note to the asker, kept with the request.")


class MeetingIn(RequestModel):
    held_on: HeldOn
    minutes: Minutes
    topic: Topic = Field(description="What the meeting was about, 1 to 200 characters.")
    notes: Notes = Field(default="", description="Up to 4000 characters; read by the two, the student's guardian and staff only.")


class MeetingPatch(RequestModel):
    """The fields to correct; the others (absent or null) stay as they are. Nothing to correct changes nothing."""

    held_on: HeldOn | None = None
    minutes: Minutes | None = None
    topic: Topic | None = None
    notes: Notes | None = None


class GoalIn(RequestModel):
    title: Topic = Field(description="The goal in a line, 1 to 200 characters.")
    description: Description = ""
    target_date: date | None = Field(default=None, description="When it should be reached: not in the past.")


class ProgressIn(RequestModel):
    percent: int = Field(ge=0, le=100, description="How far the goal is, 0 to 100; achieved means 100.")
    note: Reason = Field(description="What was done or why it stands where it does.")
    status: GoalStatus = Field(default=GoalStatus.open, description="open, or achieved / dropped: then the goal takes no more updates.")


class PendingRequest(BaseModel):
    id: uuid.UUID
    kind: RequestKind
    side: Side
    requested_at: datetime


class PauseOut(BaseModel):
    since: datetime
    by: str
    reason: str | None = Field(description="Null for a reader who may not read notes.")


class MentorshipOut(BaseModel):
    id: uuid.UUID
    need_id: uuid.UUID
    student_id: uuid.UUID
    student_name: str | None = Field(description="The student's display name in the directory.")
    mentor_id: uuid.UUID
    mentor_name: str | None = Field(description="The mentor's display name in the directory.")
    kind: NeedKind
    discipline: Discipline | None
    status: MentorshipStatus = Field(description="active, paused (the mentor's place is kept) or ended (final).")
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    pending_request: PendingRequest | None = Field(description="The request waiting for staff's decision, if any.")
    paused: PauseOut | None = Field(description="Since when, by whom and why it is paused; null unless paused.")


class RequestOut(BaseModel):
    id: uuid.UUID
    mentorship_id: uuid.UUID
    kind: RequestKind
    status: RequestStatus = Field(description="pending, approved, declined, or lapsed (the mentorship ended otherwise first).")
    side: Side
    reason: str | None = Field(description="Null for a reader who may not read notes.")
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str | None = Field(description="Staff's note; null for a reader who may not read notes.")


class MeetingOut(BaseModel):
    id: uuid.UUID
    mentorship_id: uuid.UUID
    held_on: date
    minutes: int
    topic: str
    notes: str | None = Field(description="Null for a reader who may not read notes (a coordinator, admin).")
    author_id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class GoalOut(BaseModel):
    id: uuid.UUID
    mentorship_id: uuid.UUID
    title: str
    description: str
    target_date: date | None
    status: GoalStatus
    progress: int = Field(description="The percent of the last update; 0 before any.")
    set_by: uuid.UUID
    created_at: datetime
    updated_at: datetime


class GoalUpdateOut(BaseModel):
    id: uuid.UUID
    goal_id: uuid.UUID
    percent: int
    status: GoalStatus
    note: str | None = Field(description="Null for a reader who may not read notes.")
    made_by: uuid.UUID
    made_at: datetime
