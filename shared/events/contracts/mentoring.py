"""Mentoring's events (source "mentoring").

`mentoring.mentor.assigned` goes out once per pair when staff publish a matching run: the
student now has this mentor, of this kind (a lab mentor in the discipline, or a life mentor).
Subject: the student's id. Tracking adds it to the student's timeline. No names: ids only.

`mentoring.mentorship.ended` goes out once per mentorship when it ends: staff approved either
side's request to end it or to re-match the student (`reason` "end_request" or
"rematch_request"), or the student left the programme ("exited"). The mentor's place is free
again; after a request the student's need waits for the next round. Subject: the student's id.

`mentoring.milestone.due` is a timer: published when a project's milestone is set (or its due
date moves), available some hours before the due date (`remind_at`). It carries the due date it
was set for: a consumer that finds the milestone due at another time, or gone, knows the timer
is stale (mentoring's own consumer marks the milestone reminded only when it is current).
Subject: the milestone's id.

`mentoring.defense.completed` goes out once per defense when staff decide it: the project's
students, its discipline, passed or failed, and the mean of the judges' weighted totals (0-100).
Subject: the project's id.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.events.contracts import EventContract, contract
from shared.events.contracts.selection import Discipline

SOURCE = "mentoring"


@contract("mentoring.mentor.assigned", 1)
class MentorAssigned(EventContract):
    """A mentorship began: a published run's pair (forced or matched)."""

    mentorship_id: uuid.UUID
    student_id: uuid.UUID
    mentor_id: uuid.UUID
    kind: Literal["lab", "life"]
    discipline: Discipline | None = Field(description="The lab mentorship's discipline; null for a life mentor.")
    round_id: uuid.UUID
    run_id: uuid.UUID
    started_at: datetime


@contract("mentoring.milestone.due", 1)
class MilestoneDue(EventContract):
    """A milestone's due-date reminder, valid only while the milestone is still due at `due_at`."""

    milestone_id: uuid.UUID
    project_id: uuid.UUID
    mentor_id: uuid.UUID
    student_ids: list[uuid.UUID]
    due_at: datetime = Field(description="The due date this reminder was set for; another one on the milestone makes it stale.")
    remind_at: datetime


@contract("mentoring.defense.completed", 1)
class DefenseCompleted(EventContract):
    """A project's defense was decided."""

    project_id: uuid.UUID
    defense_id: uuid.UUID
    student_ids: list[uuid.UUID]
    discipline: Discipline
    result: Literal["passed", "failed"]
    score: float = Field(description="The mean of the judges' weighted totals, 0-100.")
    decided_at: datetime
@contract("mentoring.mentorship.ended", 1)
class MentorshipEnded(EventContract):
    """A mentorship ended, for good: an approved request, or the student's exit."""

    mentorship_id: uuid.UUID
    student_id: uuid.UUID
    mentor_id: uuid.UUID
    kind: Literal["lab", "life"]
    discipline: Discipline | None = Field(description="The lab mentorship's discipline; null for a life mentor.")
    ended_at: datetime
    reason: Literal["end_request", "rematch_request", "exited"] = Field(
        description="end_request / rematch_request: staff approved that request of the student, their guardian or the mentor; "
                    "exited: the student left the programme.")
