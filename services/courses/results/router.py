"""The attendance and results API: a section's teacher or staff record attendance per meeting and final results; reads scoped by the directory."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.courses.db import directory
from services.courses.models import Completion, Section, SectionMeeting
from services.courses.registration.service import visible_roster
from services.courses.results import service
from services.courses.results.models import Attendance, Result
from services.courses.results.schemas import AttendanceIn, AttendanceOut, ResultIn, ResultOut
from shared.auth import require
from shared.db import DbSession, get_or_raise
from shared.pagination import Page, PageParams, filtered, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter(tags=["attendance and results"])

# Who may teach a section (the catalogue's rule): staff, a mentor, a coordinator; the service checks it is their section.
Recorder = Annotated[Principal, Depends(require("staff", "mentor", "coordinator"))]
# A section's lists: staff and admin all, its teacher all, a coordinator their school's students.
SectionReader = Annotated[Principal, Depends(require("admin", "staff", "coordinator", "mentor"))]
# A student's lists: the directory's row scoping.
Reader = Annotated[Principal, Depends(require("admin", "staff", "coordinator", "student", "guardian"))]

RECORD_PROBLEMS = ("courses_section_not_found", "courses_not_section_teacher", "courses_student_not_in_section")


async def attendance_out(session: AsyncSession, found: Sequence[Attendance]) -> list[AttendanceOut]:
    names = await directory.display_names(session, [a.student_id for a in found])
    meetings = {m.id: m for m in (await session.execute(
        select(SectionMeeting).where(SectionMeeting.id.in_({a.meeting_id for a in found})))).scalars()} if found else {}
    return [AttendanceOut.model_validate({
        **{c: getattr(a, c) for c in AttendanceOut.model_fields if c not in ("display_name", "meeting_starts_at")},
        "display_name": names.get(a.student_id), "meeting_starts_at": meetings[a.meeting_id].starts_at,
    }) for a in found]


async def results_out(session: AsyncSession, found: Sequence[Result]) -> list[ResultOut]:
    names = await directory.display_names(session, [r.student_id for r in found])
    completed: set[tuple[uuid.UUID, uuid.UUID]] = set()
    if found:
        stmt = select(Completion.section_id, Completion.student_id).where(Completion.section_id.in_({r.section_id for r in found}),
                                                                            Completion.student_id.in_({r.student_id for r in found}))
        completed = {(s, st) for s, st in (await session.execute(stmt)).all()}
    return [ResultOut.model_validate({
        **{c: getattr(r, c) for c in ResultOut.model_fields if c not in ("display_name", "completed")},
        "display_name": names.get(r.student_id), "completed": (r.section_id, r.student_id) in completed,
    }) for r in found]


async def _section(session: AsyncSession, section_id: uuid.UUID) -> Section:
    return await get_or_raise(session, Section, section_id, ProblemError("courses_section_not_found", section_id=section_id))


# ---------------------------------------------------------------- attendance


@router.put(
    "/sections/{section_id}/meetings/{meeting_id}/attendance", response_model=list[AttendanceOut],
    responses=problem_responses(*RECORD_PROBLEMS, "courses_meeting_not_found", "courses_meeting_not_started",
                                "courses_attendance_status_unknown", "courses_attendance_student_repeated"),
    summary="Record the attendance of a meeting that has started: each listed confirmed student present, late, absent or excused "
            "(the section's teacher, staff)",
)
async def record_attendance(principal: Recorder, section_id: uuid.UUID, meeting_id: uuid.UUID, body: AttendanceIn,
                            session: DbSession) -> list[AttendanceOut]:
    """An upsert: listed students get the status sent, others keep theirs; the same body again changes
    nothing. Any refused entry refuses the whole body, and nothing is stored. Answers the listed students' rows."""
    return await attendance_out(session, await service.record_attendance(session, principal, section_id, meeting_id, body))


@router.get(
    "/sections/{section_id}/attendance", response_model=Page[AttendanceOut], responses=problem_responses("courses_section_not_found"),
    summary="A section's attendance, by meeting in time order (staff and admin all, the section's teacher all, "
            "a coordinator their school's students)",
)
async def section_attendance(principal: SectionReader, section_id: uuid.UUID, session: DbSession, page: PageParams,
                             meeting_id: uuid.UUID | None = None, student_id: uuid.UUID | None = None) -> Page[AttendanceOut]:
    section = await _section(session, section_id)
    stmt = filtered(select(Attendance).join(SectionMeeting, SectionMeeting.id == Attendance.meeting_id).where(
        Attendance.section_id == section.id, visible_roster(principal, section, Attendance.student_id)),
        {Attendance.meeting_id: meeting_id, Attendance.student_id: student_id})
    found = await paginate(session, stmt, order_by=(SectionMeeting.starts_at, Attendance.id), params=page)
    return Page(items=await attendance_out(session, found.items), next_cursor=found.next_cursor)


@router.get(
    "/attendance", response_model=Page[AttendanceOut],
    summary="Students' attendance, latest meeting first (a student their own, a guardian their child's, "
            "a coordinator their school's students', staff and admin all)",
)
async def list_attendance(principal: Reader, session: DbSession, page: PageParams, student_id: uuid.UUID | None = None,
                          section_id: uuid.UUID | None = None) -> Page[AttendanceOut]:
    stmt = filtered(select(Attendance).join(SectionMeeting, SectionMeeting.id == Attendance.meeting_id).where(
        directory.visible(principal, Attendance.student_id)), {Attendance.student_id: student_id, Attendance.section_id: section_id})
    found = await paginate(session, stmt, order_by=(SectionMeeting.starts_at.desc(), Attendance.id.desc()), params=page)
    return Page(items=await attendance_out(session, found.items), next_cursor=found.next_cursor)


# ---------------------------------------------------------------- results


@router.put(
    "/sections/{section_id}/results/{student_id}", response_model=ResultOut,
    responses=problem_responses(*RECORD_PROBLEMS, "courses_section_not_started", "courses_result_invalid", "courses_result_reason_required",
                                "courses_result_completed", "courses_completion_in_use", "courses_course_exempted"),
    summary="Record or correct a confirmed student's final result: pass or fail, or a grade 0-100 (60 or above passes) "
            "(the section's teacher, staff)",
)
async def record_result(principal: Recorder, section_id: uuid.UUID, student_id: uuid.UUID, body: ResultIn,
                        session: DbSession) -> ResultOut:
    """Once the section's first meeting has started. A pass completes the course (a prerequisite
    met) and publishes `courses.course.completed`; the same result again changes nothing. A
    different result is a correction and needs a `reason`; a result that completed the course is
    corrected by staff only, and to a fail only while no registration relies on it as a
    prerequisite. A student who completed the course by exemption (免修) gets no result.
    `exam_waived` shows an approved exam exemption (免考)."""
    found = await service.record_result(session, principal, section_id, student_id, body)
    return (await results_out(session, [found]))[0]


@router.get(
    "/sections/{section_id}/results", response_model=Page[ResultOut], responses=problem_responses("courses_section_not_found"),
    summary="A section's final results, in the order recorded (staff and admin all, the section's teacher all, "
            "a coordinator their school's students)",
)
async def section_results(principal: SectionReader, section_id: uuid.UUID, session: DbSession, page: PageParams) -> Page[ResultOut]:
    section = await _section(session, section_id)
    stmt = select(Result).where(Result.section_id == section.id, visible_roster(principal, section, Result.student_id))
    found = await paginate(session, stmt, order_by=(Result.recorded_at, Result.id), params=page)
    return Page(items=await results_out(session, found.items), next_cursor=found.next_cursor)


@router.get(
    "/results", response_model=Page[ResultOut],
    summary="Students' final results, latest first (a student their own, a guardian their child's, "
            "a coordinator their school's students', staff and admin all)",
)
async def list_results(principal: Reader, session: DbSession, page: PageParams, student_id: uuid.UUID | None = None,
                       section_id: uuid.UUID | None = None, course_id: uuid.UUID | None = None) -> Page[ResultOut]:
    stmt = filtered(select(Result).where(directory.visible(principal, Result.student_id)),
                     {Result.student_id: student_id, Result.section_id: section_id, Result.course_id: course_id})
    found = await paginate(session, stmt, order_by=(Result.recorded_at.desc(), Result.id.desc()), params=page)
    return Page(items=await results_out(session, found.items), next_cursor=found.next_cursor)
