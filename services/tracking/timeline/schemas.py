"""Response bodies of the timeline API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class TimelineEntryOut(BaseModel):
    event_id: uuid.UUID = Field(description="The event it came from (tracking's own entries: the enrolment change's id).")
    kind: str = Field(description="The event type, e.g. mentoring.mentor.assigned, tracking.enrolment.year_advanced.")
    source: str = Field(description="The service it came from.")
    occurred_at: datetime
    summary: str = Field(description="One line, as the programme's apps show it (Chinese).")
    refs: dict[str, str] = Field(description="The ids it refers to, by name (mentorship_id, course_id, ...).")
