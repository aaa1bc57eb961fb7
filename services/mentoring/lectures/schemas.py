"""Request and response bodies of the lectures API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from services.mentoring.lectures.models import MAX_CAPACITY, LectureStatus, RegistrationStatus
from shared.disciplines import Discipline
from shared.strict import Reason, RequestModel, name_type


class LectureIn(RequestModel):
    title: name_type(200)  # type: ignore[valid-type]
    abstract: name_type(4000) = Field(description="What the lecture is about, for students choosing it.")  # type: ignore[valid-type]
    speaker_name: name_type(200) = Field(description="The scientist or engineer who gives it, e.g. 陈景润研究员.")  # type: ignore[valid-type]
    speaker_id: uuid.UUID | None = Field(default=None, description="The registered mentor who gives it, if one does: they see its "
                                                                    "registrations and mark attendance.")
    organisation: name_type(200) = Field(description="The speaker's institute, university or company.")  # type: ignore[valid-type]
    disciplines: list[Discipline] = Field(min_length=1, max_length=len(Discipline), description="Each at most once.")
    starts_at: AwareDatetime = Field(description="With a time zone, e.g. 2027-03-06T09:00:00+08:00.")
    ends_at: AwareDatetime = Field(description="After it starts.")
    place: name_type(200) = Field(description="Where at the pilot base, e.g. 泉州五中 科学楼报告厅.")  # type: ignore[valid-type]
    capacity: int = Field(ge=1, le=MAX_CAPACITY, description="Students' places.")


class LecturePatch(RequestModel):
    """Only the fields sent change; a capacity is never set below the places taken."""

    title: name_type(200) | None = None  # type: ignore[valid-type]
    abstract: name_type(4000) | None = None  # type: ignore[valid-type]
    speaker_name: name_type(200) | None = None  # type: ignore[valid-type]
    speaker_id: uuid.UUID | None = Field(default=None, description="null: no registered mentor gives it.")
    organisation: name_type(200) | None = None  # type: ignore[valid-type]
    disciplines: list[Discipline] | None = Field(default=None, min_length=1, max_length=len(Discipline))
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    place: name_type(200) | None = None  # type: ignore[valid-type]
    capacity: int | None = Field(default=None, ge=1, le=MAX_CAPACITY)


class LectureCancelIn(RequestModel):
    reason: Reason = Field(description="Why, in words the registered students are shown.")


class LectureOut(BaseModel):
    id: uuid.UUID
    title: str
    abstract: str
    speaker_name: str
    speaker_id: uuid.UUID | None
    organisation: str
    disciplines: list[Discipline]
    starts_at: datetime
    ends_at: datetime
    place: str
    capacity: int
    taken: int = Field(description="Places taken (registrations not cancelled).")
    places_left: int
    status: LectureStatus
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime


class RegistrationIn(RequestModel):
    student_id: uuid.UUID | None = Field(default=None, description="The student (a student may leave it out for themself).")


class RegistrationOut(BaseModel):
    id: uuid.UUID
    lecture_id: uuid.UUID
    student_id: uuid.UUID
    display_name: str | None
    status: RegistrationStatus
    registered_at: datetime
    cancelled_at: datetime | None
    cancel_reason: str | None = Field(description="withdrawn, the lecture was cancelled, or the student left the programme.")
    marked_at: datetime | None


class AttendanceIn(RequestModel):
    attendance: Literal["attended", "absent"]
