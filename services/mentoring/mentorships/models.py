"""A mentorship's life: its pauses, either side's requests to end it or be re-matched, its meetings, its goals and their progress.

A request is pending until staff approve or decline it; a mentorship has at most one pending
request at a time, and one that ends otherwise (the student exits) lapses it. An approved
re-match request also keeps the pair apart in every later run (services/mentoring/runs/).
Meetings and goals belong to the mentorship; each is written by one of its two parties.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.mentoring.db import SCHEMA, Base, chain
from shared.db import value_enum


class RequestKind(StrEnum):
    end = "end"  # the mentorship ends; the student's need waits for the next round
    rematch = "rematch"  # as end, and the next runs never pair the two again


class RequestStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    declined = "declined"
    lapsed = "lapsed"  # the mentorship ended otherwise before staff decided


class Side(StrEnum):
    """Who asked: the student, their guardian, or the mentor."""

    student = "student"
    guardian = "guardian"
    mentor = "mentor"


class MentorshipRequest(Base):
    """A request to end a mentorship or re-match the student, with the asker's written reason and staff's note."""

    __tablename__ = "mentorship_request"
    __table_args__ = (
        Index("uq_mentorship_request_pending", "mentorship_id", unique=True, postgresql_where=text("status = 'pending'")),
        Index("ix_mentorship_request_mentorship", "mentorship_id", "requested_at"),
        CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name="decided_unless_pending"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    mentorship_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.mentorship.id"))
    kind: Mapped[RequestKind] = mapped_column(value_enum(RequestKind, "mentorship_request_kind", SCHEMA))
    status: Mapped[RequestStatus] = mapped_column(value_enum(RequestStatus, "mentorship_request_status", SCHEMA))
    side: Mapped[Side] = mapped_column(value_enum(Side, "mentorship_side", SCHEMA))
    reason: Mapped[str] = mapped_column(String(2000))
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(String(2000))


chain.track(MentorshipRequest.__table__, ["mentorship_id", "kind", "status", "side", "reason", "requested_by", "decided_by", "decided_at", "note"])


class MentorshipPause(Base):
    """A pause of a mentorship, with its reason; closed when it resumes (or ends), with that reason."""

    __tablename__ = "mentorship_pause"
    __table_args__ = (
        Index("uq_mentorship_pause_open", "mentorship_id", unique=True, postgresql_where=text("resumed_at IS NULL")),
        CheckConstraint("(resumed_at IS NULL) = (resume_reason IS NULL)", name="resumed_with_reason"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    mentorship_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.mentorship.id"))
    reason: Mapped[str] = mapped_column(String(2000))
    paused_by: Mapped[str] = mapped_column(String(100))
    paused_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resumed_by: Mapped[str | None] = mapped_column(String(100))
    resumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resume_reason: Mapped[str | None] = mapped_column(String(2000))


chain.track(MentorshipPause.__table__, ["mentorship_id", "reason", "paused_by", "paused_at", "resumed_by", "resumed_at", "resume_reason"])


class Meeting(Base):
    """A meeting of the two, logged by one of them (`author_id`), who alone may correct it."""

    __tablename__ = "mentorship_meeting"
    __table_args__ = (
        CheckConstraint("minutes BETWEEN 1 AND 600", name="minutes_range"),
        Index("ix_mentorship_meeting_mentorship", "mentorship_id", "held_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    mentorship_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.mentorship.id"))
    held_on: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(String(4000))
    author_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(Meeting.__table__, ["mentorship_id", "held_on", "minutes", "topic", "notes", "author_id"])


class GoalStatus(StrEnum):
    open = "open"
    achieved = "achieved"
    dropped = "dropped"


class Goal(Base):
    """A goal of the mentorship, set by the mentor or the student; `progress` is its last update's percent."""

    __tablename__ = "mentorship_goal"
    __table_args__ = (
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_range"),
        Index("ix_mentorship_goal_mentorship", "mentorship_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    mentorship_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.mentorship.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000))
    target_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[GoalStatus] = mapped_column(value_enum(GoalStatus, "goal_status", SCHEMA))
    progress: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(Goal.__table__, ["mentorship_id", "title", "description", "target_date", "status", "progress", "set_by"])


class GoalUpdate(Base):
    """One progress update of a goal, kept: the percent then, the note, the status it left the goal in."""

    __tablename__ = "mentorship_goal_update"
    __table_args__ = (
        CheckConstraint("percent BETWEEN 0 AND 100", name="percent_range"),
        Index("ix_mentorship_goal_update_goal", "goal_id", "made_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    goal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.mentorship_goal.id"))
    percent: Mapped[int] = mapped_column(Integer)
    status: Mapped[GoalStatus] = mapped_column(value_enum(GoalStatus, "goal_status", SCHEMA))
    note: Mapped[str] = mapped_column(String(2000))
    made_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    made_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(GoalUpdate.__table__, ["goal_id", "percent", "status", "note", "made_by"])
