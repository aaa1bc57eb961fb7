"""Request and response bodies of the catalogue API."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from services.courses.models import BlockKind, CourseType, HostKind
from shared.disciplines import Discipline
from shared.strict import RequestModel, name_type

MAX_PREREQUISITES = 20
MAX_BLOCKS = 20
MAX_MEETINGS = 400
MAX_PATTERNS = 10
# A course's or a section's code: an identifier, so no spaces around it (and nothing stripped).
Code = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[^\s\u0000](?:[^\u0000]*[^\s\u0000])?$")]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


# ---------------------------------------------------------------- courses


class CourseIn(RequestModel):
    code: Code = Field(description="Unique in the catalogue, e.g. MATH-B101.")
    title: name_type(200)  # type: ignore[valid-type]
    type: CourseType
    discipline: Discipline
    level: int = Field(ge=1, le=10, description="1 (a first course) to 10.")
    min_grade: int = Field(ge=1, le=12, description="The lowest grade that may take it (1 to 12).")
    max_grade: int = Field(ge=1, le=12, description="The highest grade that may take it, at least min_grade.")
    prerequisites: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_PREREQUISITES,
                                           description="Courses of the catalogue the student must have completed first.")
    hours: int = Field(ge=1, le=1000, description="Class hours.")
    description: name_type(4000) = Field(description="What the course is about, for students choosing it.")  # type: ignore[valid-type]


class CoursePatch(RequestModel):
    """Only the fields sent change."""

    code: Code | None = None
    title: name_type(200) | None = None  # type: ignore[valid-type]
    type: CourseType | None = None
    discipline: Discipline | None = None
    level: int | None = Field(default=None, ge=1, le=10)
    min_grade: int | None = Field(default=None, ge=1, le=12)
    max_grade: int | None = Field(default=None, ge=1, le=12)
    prerequisites: list[uuid.UUID] | None = Field(default=None, max_length=MAX_PREREQUISITES,
                                                  description="The whole new list ([] for none); never the course itself, never a circle.")
    hours: int | None = Field(default=None, ge=1, le=1000)
    description: name_type(4000) | None = None  # type: ignore[valid-type]


class CourseOut(BaseModel):
    id: uuid.UUID
    code: str
    title: str
    type: CourseType
    discipline: Discipline
    level: int
    min_grade: int
    max_grade: int
    prerequisites: list[uuid.UUID]
    hours: int
    description: str
    updated_at: datetime


# ---------------------------------------------------------------- terms


class BlockIn(RequestModel):
    kind: BlockKind = Field(description="weekends (the Saturdays and Sundays between the dates), winter or summer (a vacation block).")
    starts_on: date
    ends_on: date


class TermIn(RequestModel):
    title: name_type(200) = Field(description="Unique, e.g. 2027 春季学期.")  # type: ignore[valid-type]
    starts_on: date
    ends_on: date
    load_limit: int = Field(ge=1, le=20, description="Sections a student may hold in the term.")
    blocks: list[BlockIn] = Field(min_length=1, max_length=MAX_BLOCKS, description="Within the term's dates, none overlapping.")


class TermPatch(RequestModel):
    """Only the fields sent change; `blocks` replaces them all, and every section's meetings must still lie within them."""

    title: name_type(200) | None = None  # type: ignore[valid-type]
    starts_on: date | None = None
    ends_on: date | None = None
    load_limit: int | None = Field(default=None, ge=1, le=20)
    blocks: list[BlockIn] | None = Field(default=None, min_length=1, max_length=MAX_BLOCKS)


class BlockOut(BaseModel):
    id: uuid.UUID
    kind: BlockKind
    starts_on: date
    ends_on: date


class TermOut(BaseModel):
    id: uuid.UUID
    title: str
    starts_on: date
    ends_on: date
    load_limit: int
    blocks: list[BlockOut] = Field(description="In date order.")
    updated_at: datetime


# ---------------------------------------------------------------- sections and meetings


class MeetingIn(RequestModel):
    starts_at: AwareDatetime = Field(description="With a time zone, e.g. 2027-03-06T09:00:00+08:00.")
    ends_at: AwareDatetime = Field(description="After it starts.")


class WeeklyIn(RequestModel):
    """Every `weekday` of one of the term's blocks, from `starts` to `ends` China time, e.g.
    every Saturday 09:00-11:30 of the weekends block."""

    block_id: uuid.UUID = Field(description="A block of the section's term.")
    weekday: Weekday
    starts: time = Field(description="China's local time, without a zone, e.g. 09:00.")
    ends: time = Field(description="China's local time, after `starts`.")
    skip: list[date] = Field(default_factory=list, max_length=60, description="Dates without a meeting (a public holiday).")


class MeetingsIn(RequestModel):
    """The section's meetings: those listed and those the weekly patterns make, together."""

    meetings: list[MeetingIn] = Field(default_factory=list, max_length=MAX_MEETINGS)
    weekly: list[WeeklyIn] = Field(default_factory=list, max_length=MAX_PATTERNS)


class SectionIn(RequestModel):
    course_id: uuid.UUID
    term_id: uuid.UUID
    code: Code = Field(description="Unique for the course in the term, e.g. A or 周六上午班.")
    host_kind: HostKind = Field(description="base (the pilot base), school (a school of the city: cross-school) or partner (a university).")
    host_id: uuid.UUID | None = Field(default=None, description="The directory's school or partner; none for the base.")
    teacher_id: uuid.UUID | None = Field(default=None, description="The teacher, when a person of the directory (staff, a mentor, a coordinator).")
    teacher_name: name_type(200) | None = Field(default=None, description="As shown to students; by default the teacher's directory name.")  # type: ignore[valid-type]
    place: name_type(200) = Field(description="Where, e.g. 泉州五中 科学楼 301.")  # type: ignore[valid-type]
    capacity: int = Field(ge=0, le=10000, description="Seats.")
    meetings: list[MeetingIn] = Field(default_factory=list, max_length=MAX_MEETINGS)
    weekly: list[WeeklyIn] = Field(default_factory=list, max_length=MAX_PATTERNS)


class SectionPatch(RequestModel):
    """Only the fields sent change. No capacity: registration changes it (a raise makes waitlist offers)."""

    code: Code | None = None
    host_kind: HostKind | None = None
    host_id: uuid.UUID | None = Field(default=None, description="null for the base.")
    teacher_id: uuid.UUID | None = Field(default=None, description="null: no person of the directory (keep a teacher_name).")
    teacher_name: name_type(200) | None = None  # type: ignore[valid-type]
    place: name_type(200) | None = None  # type: ignore[valid-type]


class MeetingOut(BaseModel):
    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


class SectionOut(BaseModel):
    id: uuid.UUID
    course_id: uuid.UUID
    term_id: uuid.UUID
    code: str
    host_kind: HostKind
    host_id: uuid.UUID | None
    host_name: str | None = Field(description="The school's or partner's name; null for the base.")
    teacher_id: uuid.UUID | None
    teacher_name: str
    place: str
    capacity: int
    taken: int = Field(description="Seats confirmed or held by an open offer.")
    seats_left: int
    meetings: list[MeetingOut] = Field(description="In time order.")
    updated_at: datetime
