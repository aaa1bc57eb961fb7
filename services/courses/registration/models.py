"""Registration: who is in the programme, the terms' windows, holds, registrations and offers.

`ProgrammeStudent` is filled by the consumer `courses.programme` from selection's admissions
and tracking's exits. A research student is one admitted at the high-school stage (the
contract's `stage` "high", grades 10-12: the programme's research courses are theirs); staff
may give the research students a priority group that opens first.

A window (one per term) opens to its priority groups each at its own time and closes for all
at `closes_at`; drops free a seat until `drop_deadline`. A registration is `confirmed` (holds
a seat), `waitlisted` (ordered by the time of the request, tie by id), `offered` (a freed
seat held for it until the offer's `claim_by`), or ended: `dropped`, `left` (the waitlist),
`declined` or `expired` (an offer). `Section.taken` counts the confirmed and offered ones.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.courses.db import SCHEMA, Base, chain
from shared.db import value_enum

DEFAULT_CLAIM_HOURS = 24


class ProgrammeStudent(Base):
    """A student of the programme: admitted (`admitted_at`, the decision's time) and not exited since."""

    __tablename__ = "programme_student"

    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    discipline: Mapped[str] = mapped_column(String(30))
    cohort_year: Mapped[int] = mapped_column(Integer)
    school_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    research: Mapped[bool] = mapped_column(Boolean)
    candidate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    admitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    exited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RegistrationWindow(Base):
    """A term's registration window. `groups` (JSON, in order): each `{"label", "opens_at",
    "research_only", "min_grade", "max_grade"}`; a student's window opens at the earliest
    `opens_at` of the groups they fall in."""

    __tablename__ = "registration_window"
    __table_args__ = (
        CheckConstraint("claim_hours BETWEEN 1 AND 168", name="claim_hours_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    term_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.term.id"), unique=True)
    groups: Mapped[list[dict]] = mapped_column(JSONB)
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    drop_deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claim_hours: Mapped[int] = mapped_column(Integer, default=DEFAULT_CLAIM_HOURS)
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chain.track(RegistrationWindow.__table__, ["term_id", "groups", "closes_at", "drop_deadline", "claim_hours"])


class Hold(Base):
    """A staff-set hold: while it is not released, the student registers for nothing."""

    __tablename__ = "registration_hold"
    __table_args__ = (Index("ix_registration_hold_student", "student_id", "released_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    reason: Mapped[str] = mapped_column(String(2000))
    placed_by: Mapped[str] = mapped_column(String(100))
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[str | None] = mapped_column(String(100))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


chain.track(Hold.__table__, ["student_id", "reason", "placed_at", "released_at"])


class RegistrationStatus(StrEnum):
    confirmed = "confirmed"
    waitlisted = "waitlisted"
    offered = "offered"
    dropped = "dropped"  # by the student or staff before the drop deadline, or the student's exit
    left = "left"  # left the waitlist (or removed from it on exit)
    declined = "declined"  # an offer declined
    expired = "expired"  # an offer not claimed by its deadline


# The registrations that hold a seat (`Section.taken`), and those still in play.
SEATED = (RegistrationStatus.confirmed, RegistrationStatus.offered)
ACTIVE = (*SEATED, RegistrationStatus.waitlisted)


class Registration(Base):
    """A student's registration for a section; at most one active (confirmed, offered or waitlisted) per student and section."""

    __tablename__ = "registration"
    __table_args__ = (
        Index("uq_registration_active", "section_id", "student_id", unique=True,
              postgresql_where=text("status IN ('confirmed', 'offered', 'waitlisted')")),
        Index("ix_registration_queue", "section_id", "status", "requested_at", "id"),
        Index("ix_registration_student", "student_id", "term_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    section_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.section.id"))
    term_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.term.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    status: Mapped[RegistrationStatus] = mapped_column(value_enum(RegistrationStatus, "registration_status", SCHEMA))
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[str | None] = mapped_column(String(100))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(200))


chain.track(Registration.__table__, ["section_id", "term_id", "student_id", "status", "requested_at", "confirmed_at", "ended_at", "end_reason"])


class OfferStatus(StrEnum):
    open = "open"
    claimed = "claimed"
    declined = "declined"
    expired = "expired"
    withdrawn = "withdrawn"  # the student exited the programme


class Offer(Base):
    """A freed seat held for a waitlisted registration until `claim_by` (the timer `courses.offer.deadline`)."""

    __tablename__ = "registration_offer"
    __table_args__ = (
        Index("uq_registration_offer_open", "registration_id", unique=True, postgresql_where=text("status = 'open'")),
        Index("ix_registration_offer_student", "student_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    registration_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.registration.id"))
    section_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.section.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    status: Mapped[OfferStatus] = mapped_column(value_enum(OfferStatus, "offer_status", SCHEMA))
    made_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claim_by: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


chain.track(Offer.__table__, ["registration_id", "section_id", "student_id", "status", "made_at", "claim_by", "closed_at"])
