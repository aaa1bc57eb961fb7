"""The timeline: one ordered history per student, from every service's events, and who mentors whom.

A `TimelineEntry` is keyed by (the event's id, the student): an event delivered again finds
its entry there and adds nothing, whatever order the deliveries come in. Entries are read in
the order things happened (`occurred_at`, the time the payload gives, then the event id as
the tiebreak), not the order they arrived. Tracking's own changes made by staff (a school
year's advance) are entries too, keyed by the change's id.

`Mentorship` is tracking's copy of mentoring's pairs (mentor.assigned / mentorship.ended):
a mentor reads the tracking rows of their current mentees.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.tracking.db import Base


class TimelineEntry(Base):
    __tablename__ = "timeline_entry"
    __table_args__ = (Index("ix_timeline_entry_order", "student_id", "occurred_at", "event_id"),)

    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(200))  # the event type, e.g. mentoring.mentor.assigned
    source: Mapped[str] = mapped_column(String(40))  # the service it came from
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    summary: Mapped[str] = mapped_column(String(500))
    refs: Mapped[dict[str, str]] = mapped_column(JSONB)  # the ids it refers to, by name
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Mentorship(Base):
    """A mentorship as mentoring announced it; `ended_at` set once it ended."""

    __tablename__ = "mentorship"
    __table_args__ = (Index("ix_mentorship_mentor", "mentor_id", "student_id"), Index("ix_mentorship_student", "student_id"))

    mentorship_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    mentor_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(10))  # lab or life
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
