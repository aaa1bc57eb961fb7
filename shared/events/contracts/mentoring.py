"""Mentoring's events (source "mentoring").

`mentoring.mentor.assigned` goes out once per pair when staff publish a matching run: the
student now has this mentor, of this kind (a lab mentor in the discipline, or a life mentor).
Subject: the student's id. Tracking adds it to the student's timeline. No names: ids only.
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
