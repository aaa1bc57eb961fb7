"""Enrolment: admissions and re-entries, grade skips and the school year's advance, each change on the record.

The consumer `tracking.enrolment` takes the admissions and the approved grade skips. Each
change it makes is an `EnrolmentChange` keyed by the event's id, written only if that id is
new, so a redelivery (in any order with other students' events) changes nothing. A late
admission older than the student's exit does not re-enter them.

Advancing the school year is a staff action, once per school year: the first run records the
year and moves every student in the programme up one grade (grade 12 graduates) with two
set-based statements under the enrolments' row locks; the same year again answers that run
and changes nothing; an earlier year than the last advanced is refused. The timeline gets
each change of the run as tracking's own entry.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String, case, cast, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking.enrolment.models import (
    IN_PROGRAMME, ChangeKind, Enrolment, EnrolmentChange, EnrolmentStatus, SchoolYearAdvance, Stage, stage_of,
)
from services.tracking.timeline.models import TimelineEntry
from services.tracking.timeline.service import discipline_zh
from shared import clock
from shared.events.contracts.courses import GradeSkipApproved
from shared.events.contracts.selection import CandidateAdmitted
from shared.problems import ProblemError
from shared.tokens import Principal

SOURCE = "tracking"
YEAR_ADVANCED = "tracking.enrolment.year_advanced"
GRADUATED = "tracking.enrolment.graduated"


async def _record(session: AsyncSession, row: Enrolment, kind: ChangeKind, *, before: tuple[EnrolmentStatus | None, int | None, Stage | None],
                  reason: str, actor: str, at: Any, event_id: uuid.UUID | None) -> bool:
    """The change, unless its event's change is there already (then False: nothing to do)."""
    from_status, from_grade, from_stage = before
    done = (await session.execute(insert(EnrolmentChange).values(
        id=uuid.uuid4(), student_id=row.student_id, kind=kind, from_status=from_status, to_status=row.status, from_grade=from_grade,
        to_grade=row.grade, from_stage=from_stage, to_stage=row.stage, reason=reason, actor=actor, at=at, event_id=event_id,
    ).on_conflict_do_nothing().returning(EnrolmentChange.id))).scalar()
    return done is not None


def _seen(event_id: uuid.UUID):
    return select(EnrolmentChange.id).where(EnrolmentChange.event_id == event_id).exists()


# ---------------------------------------------------------------- the consumer


async def on_admitted(session: AsyncSession, event: Any) -> None:
    """A new student joins; an enrolled one gains the discipline; one who exited before this
    admission re-enters in its cohort. Safe twice."""
    a: CandidateAdmitted = event.payload
    if (await session.execute(select(_seen(event.event_id)))).scalar():
        return
    row = await session.get(Enrolment, a.student_id, with_for_update=True)
    grade, stage = a.grade, stage_of(a.grade)
    name = discipline_zh(a.discipline)
    if row is None:
        row = Enrolment(student_id=a.student_id, cohort_year=a.cohort_year, disciplines=[a.discipline], stage=stage, grade=grade,
                        school_id=a.school_id, status=EnrolmentStatus.active, candidate_id=a.candidate_id, first_admitted_at=a.decided_at,
                        entered_at=a.decided_at, updated_at=clock.now())
        session.add(row)
        await session.flush()
        await _record(session, row, ChangeKind.admitted, before=(None, None, None), actor=event.source, at=a.decided_at,
                      event_id=event.event_id, reason=f"{a.cohort_year} 年选拔录取（{name}，候选 {a.candidate_id}）")
        return
    before = (row.status, row.grade, row.stage)
    if row.status is EnrolmentStatus.exited:
        if a.decided_at <= row.exited_at:
            return  # an admission from before the exit, delivered late: the student stays out
        row.status, row.cohort_year, row.disciplines, row.candidate_id = EnrolmentStatus.active, a.cohort_year, [a.discipline], a.candidate_id
        row.grade, row.stage, row.school_id, row.entered_at = grade, stage, a.school_id, a.decided_at
        row.exit_reason = row.exited_at = None
        kind, reason = ChangeKind.re_entered, f"退出后经 {a.cohort_year} 年选拔再次录取（{name}，候选 {a.candidate_id}）"
    elif row.status in IN_PROGRAMME and a.discipline not in row.disciplines:
        row.disciplines = [*row.disciplines, a.discipline]
        kind, reason = ChangeKind.discipline_added, f"{a.cohort_year} 年选拔增录{name}方向（候选 {a.candidate_id}）"
    else:
        return  # the same discipline again, or a graduate: nothing moves
    row.updated_at = clock.now()
    await session.flush()
    await _record(session, row, kind, before=before, reason=reason, actor=event.source, at=a.decided_at, event_id=event.event_id)


async def on_grade_skip(session: AsyncSession, event: Any) -> None:
    """An approved grade skip moves an enrolled student to `to_grade` (never down: a school year
    advanced past it since the application leaves the grade as it is). Safe twice."""
    skip: GradeSkipApproved = event.payload
    if (await session.execute(select(_seen(event.event_id)))).scalar():
        return
    row = await session.get(Enrolment, skip.student_id, with_for_update=True)
    if row is None or row.status not in IN_PROGRAMME:
        return
    before = (row.status, row.grade, row.stage)
    row.grade = max(row.grade, skip.to_grade)
    row.stage, row.updated_at = stage_of(row.grade), clock.now()
    await session.flush()
    reason = f"跳级申请 {skip.application_id} 获批：{skip.from_grade} 年级 → {skip.to_grade} 年级"
    if before[1] >= skip.to_grade:
        reason += f"（已在 {before[1]} 年级，年级不变）"
    await _record(session, row, ChangeKind.grade_skipped, before=before, reason=reason, actor=event.source, at=skip.approved_at,
                  event_id=event.event_id)


# ---------------------------------------------------------------- the school year


def _stage_case(grade: Any) -> Any:
    """`stage_of` in SQL."""
    return case((grade <= 6, literal(Stage.primary.value)), (grade <= 9, literal(Stage.middle.value)), else_=literal(Stage.high.value))


async def advance_school_year(session: AsyncSession, principal: Principal, school_year: int) -> tuple[SchoolYearAdvance, bool]:
    """The school year's run, and whether it is new (the same year again: the run as it was)."""
    done = await session.get(SchoolYearAdvance, school_year)
    if done is not None:
        return done, False
    latest = (await session.execute(select(func.max(SchoolYearAdvance.school_year)))).scalar()
    if latest is not None and latest > school_year:
        raise ProblemError("tracking_school_year_past", school_year=school_year, latest=latest)
    now = clock.now()
    claimed = (await session.execute(insert(SchoolYearAdvance).values(
        school_year=school_year, advanced=0, graduated=0, run_by=principal.id, run_at=now,
    ).on_conflict_do_nothing().returning(SchoolYearAdvance.school_year))).scalar()
    if claimed is None:  # the same year's run by another request, a moment earlier
        return await session.get(SchoolYearAdvance, school_year), False
    e, c = Enrolment.__table__.c, EnrolmentChange.__table__.c
    graduating = e.grade >= 12
    to_grade = case((graduating, e.grade), else_=e.grade + 1)
    label = f"{school_year}–{school_year + 1}"
    moving = select(
        func.gen_random_uuid(), e.student_id,
        case((graduating, cast(literal(ChangeKind.graduated.value), c.kind.type)), else_=cast(literal(ChangeKind.year_advanced.value), c.kind.type)),
        e.status, case((graduating, cast(literal(EnrolmentStatus.graduated.value), c.to_status.type)), else_=e.status),
        e.grade, to_grade, e.stage, cast(_stage_case(to_grade), c.to_stage.type),
        case((graduating, literal(f"{label} 学年升级：完成 12 年级，高中毕业")),
             else_=literal(f"{label} 学年升级：") + cast(e.grade, String) + literal(" 年级 → ") + cast(e.grade + 1, String) + literal(" 年级")),
        literal(principal.id), literal(now), literal(school_year),
    ).where(e.status.in_(IN_PROGRAMME)).with_for_update()
    cols = ["id", "student_id", "kind", "from_status", "to_status", "from_grade", "to_grade", "from_stage", "to_stage", "reason", "actor",
            "at", "school_year"]
    await session.execute(insert(EnrolmentChange).from_select(cols, moving))
    changes = select(EnrolmentChange.student_id, EnrolmentChange.to_grade, EnrolmentChange.to_stage, EnrolmentChange.to_status).where(
        EnrolmentChange.school_year == school_year).subquery()
    await session.execute(update(Enrolment).where(Enrolment.student_id == changes.c.student_id).values(
        grade=changes.c.to_grade, stage=changes.c.to_stage, status=changes.c.to_status, updated_at=now
    ).execution_options(synchronize_session=False))
    # On the timeline as tracking's own entries, keyed by the change.
    await session.execute(insert(TimelineEntry).from_select(
        ["event_id", "student_id", "kind", "source", "occurred_at", "summary", "refs", "recorded_at"],
        select(EnrolmentChange.id, EnrolmentChange.student_id,
               case((EnrolmentChange.kind == ChangeKind.graduated, literal(GRADUATED)), else_=literal(YEAR_ADVANCED)),
               literal(SOURCE), EnrolmentChange.at, EnrolmentChange.reason,
               func.jsonb_build_object("school_year", cast(EnrolmentChange.school_year, String)), literal(now),
               ).where(EnrolmentChange.school_year == school_year),
    ).on_conflict_do_nothing())
    counts = (await session.execute(select(
        func.count().filter(EnrolmentChange.kind == ChangeKind.year_advanced), func.count().filter(EnrolmentChange.kind == ChangeKind.graduated),
    ).where(EnrolmentChange.school_year == school_year))).one()
    run = await session.get(SchoolYearAdvance, school_year, populate_existing=True)
    run.advanced, run.graduated = counts[0], counts[1]
    await session.flush()
    return run, True
