"""A round's runs: drafts staff review, the pairs they force or ban, and the one they publish.

Every run of a round is computed from the round's state as it stands (open needs without a
mentor, mentors' places left, preferences, mentors' rankings, conflicts) and the round's
overrides; a new run supersedes the round's last draft; publishing a draft makes its pairs
mentorships, once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.mentoring.db import SCHEMA, Base, chain
from shared.db import value_enum


class OverrideAction(StrEnum):
    force = "force"  # the pair is matched whatever the preferences say
    ban = "ban"  # the pair is never matched


class Override(Base):
    """A pair staff force or ban in a round, with their written reason; every later run keeps it.
    At most one forced mentor per need."""

    __tablename__ = "pair_override"
    __table_args__ = (
        UniqueConstraint("round_id", "need_id", "mentor_id"),
        Index("uq_override_force", "round_id", "need_id", unique=True, postgresql_where=text("action = 'force'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.matching_round.id", ondelete="CASCADE"))
    need_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.need.id"))
    mentor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.mentor.person_id"))
    action: Mapped[OverrideAction] = mapped_column(value_enum(OverrideAction, "override_action", SCHEMA))
    reason: Mapped[str] = mapped_column(String(2000))
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(Override.__table__, ["round_id", "need_id", "mentor_id", "action", "reason"])


class RunStatus(StrEnum):
    draft = "draft"  # the round's current proposal
    superseded = "superseded"  # a later run replaced it
    published = "published"  # its pairs are mentorships


class Run(Base):
    """One computation of a round. `given_up` lists the blocking pairs the forced pairs left (a
    lab run; empty when the matching is stable), each {need_id, student_id, mentor_id,
    student_rank, mentor_rank, forced}; `figures` the run's summary (matched, unmatched, the
    spread of loads for a life run)."""

    __tablename__ = "matching_run"
    __table_args__ = (
        UniqueConstraint("round_id", "number"),
        Index("uq_run_published", "round_id", unique=True, postgresql_where=text("status = 'published'")),
        Index("uq_run_draft", "round_id", unique=True, postgresql_where=text("status = 'draft'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    round_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.matching_round.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[RunStatus] = mapped_column(value_enum(RunStatus, "run_status", SCHEMA))
    matched: Mapped[int] = mapped_column(Integer)
    unmatched: Mapped[int] = mapped_column(Integer)
    given_up: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB)
    computed_by: Mapped[str] = mapped_column(String(100))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str | None] = mapped_column(String(100))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


chain.track(Run.__table__, ["round_id", "number", "status", "matched", "unmatched", "given_up", "published_by", "published_at"])


class Decision(StrEnum):
    """What decided a need's place in a run."""

    stable = "stable"  # deferred acceptance: the best mentor the student can have in a stable matching
    forced = "forced"  # staff forced the pair
    balanced = "balanced"  # a life run: the load-balanced assignment
    unmatched = "unmatched"


class RunEntry(Base):
    """One need of a run: its mentor (none when unmatched), the ranks on both sides (1 the
    first; None where a side did not rank), what decided it, and `explanation`: for a lab need
    each mentor the student ranked higher and why that one passed them by, for an unmatched one
    the reason in words."""

    __tablename__ = "run_entry"
    __table_args__ = (
        UniqueConstraint("run_id", "need_id"),
        CheckConstraint("(mentor_id IS NULL) = (decision = 'unmatched')", name="unmatched_has_no_mentor"),
        Index("ix_run_entry_mentor", "run_id", "mentor_id"),
        Index("ix_run_entry_student", "student_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.matching_run.id", ondelete="CASCADE"))
    need_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.need.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    mentor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey(f"{SCHEMA}.mentor.person_id"))
    decision: Mapped[Decision] = mapped_column(value_enum(Decision, "run_decision", SCHEMA))
    student_rank: Mapped[int | None] = mapped_column(Integer)
    mentor_rank: Mapped[int | None] = mapped_column(Integer)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONB)
