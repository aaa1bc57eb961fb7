"""The enrolment API: who is in the programme (scoped to the caller's rows), each student's changes, the school year's advance."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking.db import directory
from services.tracking.enrolment import service
from services.tracking.enrolment.models import Enrolment, EnrolmentChange, EnrolmentStatus, SchoolYearAdvance, Stage
from services.tracking.enrolment.schemas import EnrolmentChangeOut, EnrolmentOut, SchoolYearIn, SchoolYearOut
from services.tracking.timeline.service import visible
from shared.auth import require
from shared.db import DbSession
from shared.disciplines import Discipline
from shared.pagination import Page, PageParams, filtered, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter()
enrolments = APIRouter(prefix="/enrolments", tags=["enrolment"])
school_years = APIRouter(prefix="/school-years", tags=["enrolment"])

# Staff and admin every student; a coordinator their school's; a mentor their current mentees; a
# guardian their children; a student themself (services/tracking/timeline/service.py `visible`).
Reader = Annotated[Principal, Depends(require("admin", "staff", "coordinator", "mentor", "student", "guardian"))]
Staff = Annotated[Principal, Depends(require("staff"))]
Overseer = Annotated[Principal, Depends(require("admin", "staff"))]


async def _enrolments_out(session: AsyncSession, rows: list[Enrolment]) -> list[EnrolmentOut]:
    names = await directory.display_names(session, [r.student_id for r in rows])
    return [EnrolmentOut.model_validate({**{c: getattr(r, c) for c in EnrolmentOut.model_fields if c != "display_name"},
                                         "display_name": names.get(r.student_id)}) for r in rows]


def _change_out(row: EnrolmentChange) -> EnrolmentChangeOut:
    return EnrolmentChangeOut.model_validate({c: getattr(row, c) for c in EnrolmentChangeOut.model_fields})


def _run_out(row: SchoolYearAdvance) -> SchoolYearOut:
    return SchoolYearOut.model_validate({c: getattr(row, c) for c in SchoolYearOut.model_fields})


async def readable(session: AsyncSession, principal: Principal, student_id: uuid.UUID) -> Enrolment:
    """The student's enrolment, if the caller may read it; else the same 404 as an unknown student."""
    found = (await session.execute(select(Enrolment).where(Enrolment.student_id == student_id, visible(principal, Enrolment.student_id))
                                   .execution_options(populate_existing=True))).scalar_one_or_none()
    if found is None:
        raise ProblemError("tracking_enrolment_not_found", student_id=student_id)
    return found


@enrolments.get(
    "", response_model=Page[EnrolmentOut],
    summary="The programme's students you may see, latest entered first, filtered by cohort, discipline, stage, status and school "
            "(staff and admin all; a coordinator their school's, a mentor their mentees, a guardian their children, a student themself)",
)
async def list_enrolments(
    principal: Reader, session: DbSession, page: PageParams,
    cohort_year: Annotated[int | None, Query(ge=2000, le=2100, description="The cohort: the admitting campaign's year.")] = None,
    discipline: Discipline | None = None, stage: Stage | None = None, status: EnrolmentStatus | None = None, school_id: uuid.UUID | None = None,
) -> Page[EnrolmentOut]:
    stmt = select(Enrolment).where(visible(principal, Enrolment.student_id)).execution_options(populate_existing=True)
    stmt = filtered(stmt, {Enrolment.cohort_year: cohort_year, Enrolment.stage: stage, Enrolment.status: status, Enrolment.school_id: school_id})
    if discipline is not None:
        stmt = stmt.where(Enrolment.disciplines.any_() == discipline.value)
    found = await paginate(session, stmt, order_by=(Enrolment.entered_at.desc(), Enrolment.student_id.desc()), params=page)
    return Page(items=await _enrolments_out(session, list(found.items)), next_cursor=found.next_cursor)


@enrolments.get("/{student_id}", response_model=EnrolmentOut, responses=problem_responses("tracking_enrolment_not_found"),
                summary="A student's enrolment: status, cohort, disciplines, stage and grade (whoever may see the student, as the list)")
async def get_enrolment(principal: Reader, student_id: uuid.UUID, session: DbSession) -> EnrolmentOut:
    return (await _enrolments_out(session, [await readable(session, principal, student_id)]))[0]


@enrolments.get(
    "/{student_id}/history", response_model=Page[EnrolmentChangeOut], responses=problem_responses("tracking_enrolment_not_found"),
    summary="Every change of a student's enrolment, oldest first, each with its reason, who and when (whoever may see the student)",
)
async def enrolment_history(principal: Reader, student_id: uuid.UUID, session: DbSession, page: PageParams) -> Page[EnrolmentChangeOut]:
    """Kept across an exit and a re-entry: the whole road, not only the current stay."""
    await readable(session, principal, student_id)
    stmt = select(EnrolmentChange).where(EnrolmentChange.student_id == student_id)
    found = await paginate(session, stmt, order_by=(EnrolmentChange.at, EnrolmentChange.id), params=page)
    return Page(items=[_change_out(r) for r in found.items], next_cursor=found.next_cursor)


@school_years.post(
    "/advance", status_code=201, response_model=SchoolYearOut,
    responses={200: {"description": "The school year was advanced already: its run, nothing changed.", "model": SchoolYearOut},
               **problem_responses("tracking_school_year_past")},
    summary="Advance the school year (staff): every student in the programme one grade up, grade 12 graduates; once per school year",
)
async def advance_school_year(principal: Staff, body: SchoolYearIn, session: DbSession, response: Response) -> SchoolYearOut:
    """Each active or on-probation student's grade goes up one and the stage follows it (primary
    1-6, middle 7-9, high 10-12); a student in grade 12 graduates. Every change is in the
    student's history and on their timeline. The same school year again answers its run (200)
    and changes nothing; a school year before the last advanced is refused."""
    run, new = await service.advance_school_year(session, principal, body.school_year)
    if not new:
        response.status_code = 200
    response.headers["Location"] = f"/school-years/{run.school_year}"
    return _run_out(run)


@school_years.get("", response_model=Page[SchoolYearOut], summary="The school years advanced, latest first (staff and admin)")
async def list_school_years(_: Overseer, session: DbSession, page: PageParams) -> Page[SchoolYearOut]:
    found = await paginate(session, select(SchoolYearAdvance), order_by=(SchoolYearAdvance.school_year.desc(),), params=page)
    return Page(items=[_run_out(r) for r in found.items], next_cursor=found.next_cursor)


for part in (enrolments, school_years):
    router.include_router(part)
