"""Calls to the courses service as the world's people."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.matrix.world import World


async def call(w: World, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return await w.clients["courses"].request(method, path, headers=w.caller(who).headers, **kwargs)


# ---------------------------------------------------------------- catalogue rows, written with the ORM and put on the record as the catalogue does


async def _recorded(s: Any, row: Any, kind: str) -> Any:
    from services.courses.db import chain

    await s.flush()
    await chain.append(s, kind=kind, table=type(row).__table__, row_id=row.id, actor="tests")
    return row


async def new_term(s: Any, *, load_limit: int = 5) -> Any:
    from services.courses.models import Term
    from shared import clock

    today = clock.today()
    row = Term(title=f"学期 {uuid.uuid4().hex[:8]}", starts_on=today, ends_on=today + timedelta(days=180), load_limit=load_limit,
               created_by="tests", updated_at=clock.now())
    s.add(row)
    return await _recorded(s, row, "term.created")


async def new_course(s: Any, *, prerequisites: list[uuid.UUID] | None = None, min_grade: int = 1, max_grade: int = 12) -> Any:
    from services.courses.models import Course, CourseType
    from shared import clock

    row = Course(code=f"C-{uuid.uuid4().hex[:10]}", title="数论初步", type=CourseType.extended, discipline="math", level=2,
                 min_grade=min_grade, max_grade=max_grade, prerequisites=prerequisites or [], hours=32, description="同余与素数。",
                 created_by="tests", updated_at=clock.now())
    s.add(row)
    return await _recorded(s, row, "course.created")


async def new_section(s: Any, term: Any, course: Any, *, starts: datetime, capacity: int = 10, teacher_id: uuid.UUID | None = None,
                      meetings: int = 2) -> Any:
    """A section at the base whose meetings are `starts` (2 h) and then weekly."""
    from services.courses.models import HostKind, Section, SectionMeeting
    from shared import clock

    row = Section(course_id=course.id, term_id=term.id, code=uuid.uuid4().hex[:8], host_kind=HostKind.base, host_id=None,
                  teacher_id=teacher_id, teacher_name="李老师", place="泉州五中 科学楼 301", capacity=capacity, taken=0,
                  created_by="tests", updated_at=clock.now())
    s.add(row)
    await _recorded(s, row, "section.created")
    for week in range(meetings):
        at = starts + timedelta(weeks=week)
        s.add(SectionMeeting(section_id=row.id, starts_at=at, ends_at=at + timedelta(hours=2)))
    await s.flush()
    return row


def window_in(term_id: uuid.UUID, *, opens: datetime, closes: datetime, drop: datetime | None = None, groups: list[dict] | None = None,
              claim_hours: int = 24) -> Any:
    from services.courses.registration.schemas import WindowIn

    return WindowIn.model_validate({
        "term_id": term_id, "groups": groups or [{"label": "全体学生", "opens_at": opens}], "closes_at": closes,
        "drop_deadline": drop or closes, "claim_hours": claim_hours,
    })


def admission(student: str, school: str, *, stage: str = "middle", grade: int = 9, at: datetime | None = None) -> Any:
    """A `selection.candidate.admitted` delivery as the worker hands it to courses' consumer."""
    from shared.events.contracts.selection import CandidateAdmitted
    from shared.events.worker import EventEnvelope

    at = at or datetime.now(UTC)
    payload = CandidateAdmitted(candidate_id=uuid.uuid4(), campaign_id=uuid.uuid4(), student_id=uuid.UUID(student), discipline="math",
                                cohort_year=2027, school_id=uuid.UUID(school), grade=grade, stage=stage, rank=1, decided_at=at)
    return EventEnvelope(event_id=uuid.uuid4(), type="selection.candidate.admitted", version=1, source="selection", subject=student,
                         payload=payload, occurred_at=at, traceparent=None, attempt=1, delivery_id=1, consumer="courses.programme")
