"""Tracking's events (source "tracking").

`tracking.student.exited` goes out when a student leaves the programme: staff decided an exit
proposed by the tracking evaluation (after the student and guardian could respond), or
confirmed a voluntary exit. Subject: the student's id. Mentoring ends the student's
mentorships and frees the mentors' capacity; courses drop their future registrations. The
payload carries no name and no evaluation detail: the reason's kind only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.events.contracts import EventContract, contract

SOURCE = "tracking"

ExitReason = Literal["evaluation", "voluntary", "other"]


@contract("tracking.student.exited", 1)
class StudentExited(EventContract):
    """The student has left the programme (they may re-enter through a later campaign)."""

    student_id: uuid.UUID
    reason: ExitReason = Field(description="evaluation: staff decided an exit the evaluation proposed; voluntary: asked by the student or a guardian.")
    exited_at: datetime
