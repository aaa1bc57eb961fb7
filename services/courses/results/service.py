"""Attendance and final results: who records them, when, and what a pass completes.

Only the section's teacher (`Section.teacher_id`) or staff record, and only for students
holding a confirmed seat in the section (`courses_student_not_in_section`). Attendance is
taken for a meeting of the section (`courses_meeting_not_found`) once it has started
(`courses_meeting_not_started`), as one body listing each student once
(`courses_attendance_student_repeated`) with a known status
(`courses_attendance_status_unknown`); it is upserted under the meeting's lock, so sending the
same body again, or twice at once, writes nothing new. Each row written is on the chain.

A final result is recorded once the section's first meeting has started
(`courses_section_not_started`). A pass writes the student's `Completion` of the course (basis
"result", the section and the grade) and publishes `courses.course.completed`, in the same
transaction. The rules where the issue left a choice:

- The same result again (outcome and grade) is a no-op: nothing written, nothing published.
- A different result is a correction: it needs a `reason` (`courses_result_reason_required`),
  counted and kept on the row and the chain. A fail corrected to a pass completes the course.
- A result that completed the course is corrected by staff only (`courses_result_completed`
  for the teacher), since downstream (tracking, registrations relying on the prerequisite)
  has seen it. Staff correcting it to another passing grade update the completion's grade; to
  a fail, withdraw the completion (deleted, on the chain) unless it is the prerequisite of a
  section the student is registered for or waitlisted in (`courses_completion_in_use`: drop
  that first). Either is announced with `courses.course.completed` (outcome "pass" with the
  new grade, or "fail").
- A student who completed the course by an exemption (免修) gets no result
  (`courses_course_exempted`): the exemption decided the course, and a fail beside it would
  contradict the record. A student who completed it by a pass in another section keeps that
  completion: this section's result is recorded, and its pass completes nothing new.
- `exam_waived` is read from the approved exam exemptions (免考) each time a result is written.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.courses.applications.service import waived_exams
from services.courses.db import chain
from services.courses.models import Completion, CompletionBasis, Course, Section, SectionMeeting
from services.courses.registration.models import ACTIVE, Registration, RegistrationStatus
from services.courses.results.models import PASS_GRADE, Attendance, AttendanceStatus, Result, ResultOutcome
from services.courses.results.schemas import STATUSES, AttendanceIn, ResultIn
from shared import clock
from shared.chain import Change
from shared.db import get_or_raise, xact_lock
from shared.events import publish
from shared.events.contracts.courses import SOURCE, CourseCompleted
from shared.ids import as_uuid
from shared.problems import ProblemError
from shared.tokens import Principal

CENTS = Decimal("0.01")


async def teaching(session: AsyncSession, principal: Principal, section_id: uuid.UUID) -> Section:
    """The section, if the caller is its teacher or staff; else its 404 or `courses_not_section_teacher`."""
    section = await get_or_raise(session, Section, section_id, ProblemError("courses_section_not_found", section_id=section_id))
    me = as_uuid(principal.id)
    if not principal.has_role("staff") and (me is None or section.teacher_id != me):
        raise ProblemError("courses_not_section_teacher")
    return section


async def _refuse_unseated(session: AsyncSession, section: Section, student_ids: list[uuid.UUID]) -> None:
    stmt = select(Registration.student_id).where(Registration.section_id == section.id, Registration.status == RegistrationStatus.confirmed,
                                                 Registration.student_id.in_(student_ids))
    seated = set((await session.execute(stmt)).scalars())
    missing = next((s for s in student_ids if s not in seated), None)
    if missing is not None:
        raise ProblemError("courses_student_not_in_section", student_id=missing, section_id=section.id)


# ---------------------------------------------------------------- attendance


def _checked_entries(data: AttendanceIn) -> dict[uuid.UUID, AttendanceStatus]:
    """Each student's status, in the body's order: each student once, each status known."""
    entries: dict[uuid.UUID, AttendanceStatus] = {}
    for e in data.students:
        if e.status not in STATUSES:
            raise ProblemError("courses_attendance_status_unknown", value=e.status)
        if e.student_id in entries:
            raise ProblemError("courses_attendance_student_repeated", student_id=e.student_id)
        entries[e.student_id] = AttendanceStatus(e.status)
    return entries


async def record_attendance(session: AsyncSession, principal: Principal, section_id: uuid.UUID, meeting_id: uuid.UUID,
                            data: AttendanceIn) -> list[Attendance]:
    """The listed students' attendance at the meeting, inserted or changed; the rows in the body's order."""
    section = await teaching(session, principal, section_id)
    meeting = await session.get(SectionMeeting, meeting_id)
    if meeting is None or meeting.section_id != section.id:
        raise ProblemError("courses_meeting_not_found", section_id=section.id, meeting_id=meeting_id)
    if clock.now() < meeting.starts_at:
        raise ProblemError("courses_meeting_not_started", starts_at=meeting.starts_at.isoformat())
    entries = _checked_entries(data)
    await _refuse_unseated(session, section, list(entries))
    await xact_lock(session, "courses.attendance", meeting.id)
    stmt = select(Attendance).where(Attendance.meeting_id == meeting.id, Attendance.student_id.in_(list(entries)))
    found = {a.student_id: a for a in (await session.execute(stmt.execution_options(populate_existing=True))).scalars()}
    now, changes, rows = clock.now(), [], []
    for student_id, status in entries.items():
        row = found.get(student_id)
        if row is None:
            row = Attendance(id=uuid.uuid4(), meeting_id=meeting.id, section_id=section.id, student_id=student_id, status=status,
                             recorded_by=principal.id, recorded_at=now)
            session.add(row)
            changes.append(Change("attendance.recorded", principal.id, Attendance.__table__, row.id))
        elif row.status is not status:
            changes.append(Change("attendance.changed", principal.id, Attendance.__table__, row.id, {"from": row.status.value}))
            row.status, row.recorded_by, row.recorded_at = status, principal.id, now
        rows.append(row)
    await chain.append_many(session, changes)
    return rows


# ---------------------------------------------------------------- results


def _outcome_of(data: ResultIn) -> tuple[ResultOutcome, Decimal | None]:
    """The outcome, and the grade to two places: a grade decides the outcome (a pass at PASS_GRADE or above)."""
    if data.grade is None:
        if data.outcome is None:
            raise ProblemError("courses_result_invalid", reason="give an outcome (pass or fail) or a grade (0 to 100)")
        return data.outcome, None
    follows = ResultOutcome.pass_ if data.grade >= PASS_GRADE else ResultOutcome.fail
    if data.outcome is not None and data.outcome is not follows:
        raise ProblemError("courses_result_invalid", reason=f"a grade of {data.grade} is a {follows.value} (a pass is {PASS_GRADE} or above)")
    return follows, data.grade.quantize(CENTS) + 0  # + 0: no negative zero


async def _first_meeting(session: AsyncSession, section_id: uuid.UUID):
    return (await session.execute(select(func.min(SectionMeeting.starts_at)).where(SectionMeeting.section_id == section_id))).scalar()


async def _dependants(session: AsyncSession, student_id: uuid.UUID, course_id: uuid.UUID) -> list[uuid.UUID]:
    """The sections the student is registered for (or waits for) whose course needs `course_id`."""
    stmt = (select(Registration.section_id).join(Section, Section.id == Registration.section_id).join(Course, Course.id == Section.course_id)
            .where(Registration.student_id == student_id, Registration.status.in_(ACTIVE), Course.prerequisites.contains([course_id]))
            .order_by(Registration.section_id))
    return list((await session.execute(stmt)).scalars())


async def _announce(session: AsyncSession, section: Section, student_id: uuid.UUID, outcome: ResultOutcome, grade: Decimal | None,
                    at: datetime) -> None:
    await publish(session, type="courses.course.completed", subject=student_id, source=SOURCE, payload=CourseCompleted(
        student_id=student_id, course_id=section.course_id, section_id=section.id, term_id=section.term_id, outcome=outcome.value,
        grade=grade, completed_at=at))


async def record_result(session: AsyncSession, principal: Principal, section_id: uuid.UUID, student_id: uuid.UUID,
                        data: ResultIn) -> Result:
    """The student's final result in the section, recorded or corrected (the module docstring's rules)."""
    section = await teaching(session, principal, section_id)
    outcome, grade = _outcome_of(data)
    first = await _first_meeting(session, section.id)
    if first is None or clock.now() < first:
        raise ProblemError("courses_section_not_started", starts_at=first.isoformat() if first is not None else "none scheduled")
    await _refuse_unseated(session, section, [student_id])
    # One writer at a time for the student's course: its completion is one per student and course.
    await xact_lock(session, "courses.results", student_id, section.course_id)
    completion = (await session.execute(select(Completion).where(Completion.student_id == student_id, Completion.course_id == section.course_id)
                                        .execution_options(populate_existing=True))).scalar_one_or_none()
    if completion is not None and completion.basis is CompletionBasis.exemption:
        raise ProblemError("courses_course_exempted")
    row = (await session.execute(select(Result).where(Result.section_id == section.id, Result.student_id == student_id)
                                 .execution_options(populate_existing=True))).scalar_one_or_none()
    if row is not None and (row.outcome, row.grade) == (outcome, grade):
        return row
    ours = completion if completion is not None and completion.section_id == section.id else None
    if row is not None:
        if data.reason is None:
            raise ProblemError("courses_result_reason_required", outcome=row.outcome.value if row.grade is None else f"{row.outcome.value}, {row.grade}")
        if ours is not None and not principal.has_role("staff"):
            raise ProblemError("courses_result_completed")
    if ours is not None and outcome is ResultOutcome.fail:
        in_use = await _dependants(session, student_id, section.course_id)
        if in_use:
            raise ProblemError("courses_completion_in_use", section_ids=", ".join(str(s) for s in in_use))
    now, waived = clock.now(), student_id in await waived_exams(session, section.id)
    if row is None:
        row = Result(id=uuid.uuid4(), section_id=section.id, course_id=section.course_id, student_id=student_id, corrections=0)
        session.add(row)
        change = Change("result.recorded", principal.id, Result.__table__, row.id)
    else:
        change = Change("result.corrected", principal.id, Result.__table__, row.id, {
            "reason": data.reason, "from_outcome": row.outcome.value, "from_grade": row.grade})
        row.corrections, row.correction_reason = row.corrections + 1, data.reason
    row.outcome, row.grade, row.exam_waived, row.recorded_by, row.recorded_at = outcome, grade, waived, principal.id, now
    changes = [change]
    announce = True
    if outcome is ResultOutcome.pass_ and completion is None:
        completion = Completion(id=uuid.uuid4(), student_id=student_id, course_id=section.course_id, basis=CompletionBasis.result,
                                section_id=section.id, grade=grade, completed_at=now)
        session.add(completion)
        changes.append(Change("completion.result", principal.id, Completion.__table__, completion.id, {"result_id": row.id}))
    elif ours is not None and outcome is ResultOutcome.pass_ and ours.grade != grade:
        ours.grade = grade
        changes.append(Change("completion.corrected", principal.id, Completion.__table__, ours.id, {"result_id": row.id}))
    elif ours is not None and outcome is ResultOutcome.fail:
        await session.delete(ours)
        changes.append(Change("completion.withdrawn", principal.id, Completion.__table__, ours.id, {"result_id": row.id}))
    else:
        announce = False
    await session.flush()
    await chain.append_many(session, changes)
    if announce:
        await _announce(session, section, student_id, outcome, grade, completion.completed_at if outcome is ResultOutcome.pass_ else now)
    return row
