"""Request and response bodies of the registration API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from services.courses.registration.models import DEFAULT_CLAIM_HOURS, OfferStatus, RegistrationStatus
from shared.strict import Reason, RequestModel, name_type


class GroupIn(RequestModel):
    """A priority group: the students it takes, and when registration opens to them."""

    label: name_type(100) = Field(description="e.g. 研究型学生, 九年级.")  # type: ignore[valid-type]
    opens_at: AwareDatetime
    research_only: bool = Field(default=False, description="Only research students (admitted at the high-school stage).")
    min_grade: int = Field(default=1, ge=1, le=12)
    max_grade: int = Field(default=12, ge=1, le=12)


class WindowChange(RequestModel):
    """The whole window, replaced. A student's window opens at the earliest group they fall in."""

    groups: list[GroupIn] = Field(min_length=1, max_length=20)
    closes_at: AwareDatetime = Field(description="Registration closes for every group.")
    drop_deadline: AwareDatetime = Field(description="A confirmed seat may be dropped (freeing it) until then.")
    claim_hours: int = Field(default=DEFAULT_CLAIM_HOURS, ge=1, le=168, description="How long a waitlisted student has to claim an offered seat.")


class WindowIn(WindowChange):
    term_id: uuid.UUID


class GroupOut(BaseModel):
    label: str
    opens_at: datetime
    research_only: bool
    min_grade: int
    max_grade: int


class WindowOut(BaseModel):
    id: uuid.UUID
    term_id: uuid.UUID
    groups: list[GroupOut]
    closes_at: datetime
    drop_deadline: datetime
    claim_hours: int
    updated_at: datetime


class HoldIn(RequestModel):
    student_id: uuid.UUID
    reason: Reason = Field(description="Why, in words the student is shown.")


class HoldOut(BaseModel):
    id: uuid.UUID
    student_id: uuid.UUID
    reason: str
    placed_at: datetime
    released_at: datetime | None


class RegistrationIn(RequestModel):
    section_id: uuid.UUID
    student_id: uuid.UUID | None = Field(default=None, description="The student (a student leaves it out, or names themself; staff name one).")


class CapacityIn(RequestModel):
    capacity: int = Field(description="0 to 10000, never below the seats confirmed or offered.")


class OfferOut(BaseModel):
    id: uuid.UUID
    status: OfferStatus
    made_at: datetime
    claim_by: datetime


class RegistrationOut(BaseModel):
    id: uuid.UUID
    section_id: uuid.UUID
    term_id: uuid.UUID
    student_id: uuid.UUID
    display_name: str | None
    status: RegistrationStatus
    position: int | None = Field(description="The place in the section's waitlist (1 first), while waitlisted.")
    offer: OfferOut | None = Field(description="The seat offered, while offered: claim it before `claim_by`.")
    requested_at: datetime
    confirmed_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None


class SectionSeatsOut(BaseModel):
    id: uuid.UUID
    capacity: int
    taken: int = Field(description="Seats confirmed or held by an open offer.")
