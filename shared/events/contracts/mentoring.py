"""Mentoring's events (source "mentoring").

`mentoring.mentor.assigned` goes out once per pair when staff publish a matching run: the
student now has this mentor, of this kind (a lab mentor in the discipline, or a life mentor).
Subject: the student's id. Tracking adds it to the student's timeline. No names: ids only.

`mentoring.mentorship.ended` goes out once per mentorship when it ends: staff approved either
side's request to end it or to re-match the student (`reason` "end_request" or
"rematch_request"), or the student left the programme ("exited"). The mentor's place is free
again; after a request the student's need waits for the next round. Subject: the student's id.
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
