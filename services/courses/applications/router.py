"""The applications API: course and exam exemptions (免修/免考) and grade skips (跳级), applied for and decided."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Response
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.courses.applications import service
from services.courses.applications.models import ApplicationStatus, Exemption, ExemptionKind, GradeSkip, Level
from services.courses.applications.schemas import (
    DecisionOut, ExemptionDecisionIn, ExemptionIn, ExemptionOut, GradeSkipDecisionIn, GradeSkipIn, GradeSkipOut,
)
from services.courses.db import directory
from shared.auth import require
from shared.db import DbSession
from shared.idempotency import IdempotencyKey
from shared.pagination import Page, PageParams, filtered, paginate
from shared.problems import problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter()
exemptions = APIRouter(prefix="/exemptions", tags=["exemptions"])
grade_skips = APIRouter(prefix="/grade-skips", tags=["grade skips"])
T = TypeVar("T")

Applicant = Annotated[Principal, Depends(require("student", "guardian"))]
Reader = Annotated[Principal, Depends(require("admin", "staff", "coordinator", "student", "guardian"))]
Staff = Annotated[Principal, Depends(require("staff"))]
Decider = Annotated[Principal, Depends(require("coordinator", "staff", "admin"))]

APPLY_PROBLEMS = ("student_not_found", "courses_application_student_required", "courses_application_open")


async def exemptions_out(session: AsyncSession, found: Sequence[Exemption]) -> list[ExemptionOut]:
    names = await directory.display_names(session, [x.student_id for x in found])
    return [ExemptionOut.model_validate({
        **{c: getattr(x, c) for c in ExemptionOut.model_fields if c != "display_name"}, "display_name": names.get(x.student_id),
    }) for x in found]


async def grade_skips_out(session: AsyncSession, found: Sequence[GradeSkip]) -> list[GradeSkipOut]:
    names = await directory.display_names(session, [x.student_id for x in found])
    decisions = await service.decisions_of(session, [x.id for x in found])
    return [GradeSkipOut.model_validate({
        **{c: getattr(x, c) for c in GradeSkipOut.model_fields if c not in ("display_name", "decisions")},
        "display_name": names.get(x.student_id),
        "decisions": [DecisionOut.model_validate(d, from_attributes=True) for d in decisions[x.id]],
    }) for x in found]


async def _page(session: AsyncSession, page: PageParams, model: type[service.Application], out: Callable[..., Awaitable[list[T]]],
                scope: ColumnElement[bool], filters: Mapping[Any, Any]) -> Page[T]:
    """The applications in `scope` matching the filters given (those not None), oldest first."""
    stmt = filtered(select(model).where(scope), filters)
    found = await paginate(session, stmt, order_by=(model.applied_at, model.id), params=page)
    return Page(items=await out(session, found.items), next_cursor=found.next_cursor)


# ---------------------------------------------------------------- exemptions


@exemptions.post(
    "", status_code=201, response_model=ExemptionOut,
    responses=problem_responses(*APPLY_PROBLEMS, "courses_course_not_found", "courses_section_not_found",
                                "courses_exemption_section_invalid", "courses_exemption_granted"),
    summary="Apply for a course exemption (免修) or an exam exemption (免考) with evidence (a student for themself, a guardian for their child)",
)
async def apply_exemption(principal: Applicant, body: ExemptionIn, session: DbSession, idempotency: IdempotencyKey,
                          response: Response) -> ExemptionOut:
    """One pending application per student and course (`courses_application_open`). A course
    exemption of a completed course, or an exam exemption of a section whose exam is waived
    already, is refused (`courses_exemption_granted`)."""
    found = await service.apply_exemption(session, principal, body)
    response.headers["Location"] = f"/exemptions/{found.id}"
    return await idempotency.save((await exemptions_out(session, [found]))[0])


@exemptions.get(
    "", response_model=Page[ExemptionOut],
    summary="Exemption applications, oldest first (staff and admin all; a coordinator their school's students', "
            "a student their own, a guardian their child's)",
)
async def list_exemptions(
    principal: Reader, session: DbSession, page: PageParams, status: ApplicationStatus | None = None, kind: ExemptionKind | None = None,
    student_id: uuid.UUID | None = None, course_id: uuid.UUID | None = None, section_id: uuid.UUID | None = None,
) -> Page[ExemptionOut]:
    """`status=pending` is staff's work list; `kind=exam&status=approved&section_id=...` the section's waived exams."""
    return await _page(session, page, Exemption, exemptions_out, service.visible(principal, Exemption), {
        Exemption.status: status, Exemption.kind: kind, Exemption.student_id: student_id, Exemption.course_id: course_id,
        Exemption.section_id: section_id})


@exemptions.get("/{application_id}", response_model=ExemptionOut, responses=problem_responses("courses_exemption_not_found"),
                summary="An exemption application (whoever may list it)")
async def get_exemption(principal: Reader, application_id: uuid.UUID, session: DbSession) -> ExemptionOut:
    return (await exemptions_out(session, [await service.readable(session, principal, Exemption, application_id)]))[0]


@exemptions.post(
    "/{application_id}/decision", response_model=ExemptionOut,
    responses=problem_responses("courses_exemption_not_found", "courses_application_decided"),
    summary="Approve or refuse a pending exemption application, with a reason (staff)",
)
async def decide_exemption(principal: Staff, application_id: uuid.UUID, body: ExemptionDecisionIn, session: DbSession) -> ExemptionOut:
    """Once: a decided application does not change. A course exemption approved completes the
    course for the student (basis "exemption"); an exam exemption approved waives the section's final exam."""
    found = await service.decide_exemption(session, principal, application_id, body.outcome, body.reason)
    return (await exemptions_out(session, [found]))[0]


@exemptions.post(
    "/{application_id}/withdraw", response_model=ExemptionOut,
    responses=problem_responses("courses_exemption_not_found", "courses_application_decided"),
    summary="Withdraw a pending exemption application (the student, or their guardian)",
)
async def withdraw_exemption(principal: Applicant, application_id: uuid.UUID, session: DbSession) -> ExemptionOut:
    """One withdrawn already is answered as it is."""
    return (await exemptions_out(session, [await service.withdraw(session, principal, Exemption, application_id)]))[0]


# ---------------------------------------------------------------- grade skips


@grade_skips.post(
    "", status_code=201, response_model=GradeSkipOut,
    responses=problem_responses(*APPLY_PROBLEMS, "courses_grade_unknown", "courses_grade_skip_not_above"),
    summary="Apply for a grade skip (跳级) with evidence and the grade asked for (a student for themself, a guardian for their child)",
)
async def apply_grade_skip(principal: Applicant, body: GradeSkipIn, session: DbSession, idempotency: IdempotencyKey,
                           response: Response) -> GradeSkipOut:
    """The grade asked for is above the student's grade now (the directory's), at most 12. It
    waits for the student's school's coordinator, then staff, then admin. One pending per student."""
    found = await service.apply_grade_skip(session, principal, body)
    response.headers["Location"] = f"/grade-skips/{found.id}"
    return await idempotency.save((await grade_skips_out(session, [found]))[0])


@grade_skips.get(
    "", response_model=Page[GradeSkipOut],
    summary="Grade-skip applications, oldest first (staff and admin all; a coordinator their school's students', "
            "a student their own, a guardian their child's)",
)
async def list_grade_skips(
    principal: Reader, session: DbSession, page: PageParams, status: ApplicationStatus | None = None,
    waiting_for: Annotated[Level | None, Query(description="Those pending at this level.")] = None, student_id: uuid.UUID | None = None,
) -> Page[GradeSkipOut]:
    return await _page(session, page, GradeSkip, grade_skips_out, service.visible(principal, GradeSkip), {
        GradeSkip.status: status, GradeSkip.waiting_for: waiting_for, GradeSkip.student_id: student_id})


@grade_skips.get(
    "/queue", response_model=Page[GradeSkipOut],
    summary="The grade skips waiting for your decision, oldest first (a coordinator: their school's at the coordinator level; "
            "staff: at the staff level; admin: at the admin level)",
)
async def grade_skip_queue(principal: Decider, session: DbSession, page: PageParams) -> Page[GradeSkipOut]:
    return await _page(session, page, GradeSkip, grade_skips_out, service.waiting_for_me(principal), {})


@grade_skips.get("/{application_id}", response_model=GradeSkipOut, responses=problem_responses("courses_grade_skip_not_found"),
                 summary="A grade-skip application with its levels' decisions (whoever may list it)")
async def get_grade_skip(principal: Reader, application_id: uuid.UUID, session: DbSession) -> GradeSkipOut:
    return (await grade_skips_out(session, [await service.readable(session, principal, GradeSkip, application_id)]))[0]


@grade_skips.post(
    "/{application_id}/decisions", response_model=GradeSkipOut,
    responses=problem_responses("courses_grade_skip_not_found", "courses_application_decided", "courses_grade_skip_level_not_yours",
                                "courses_grade_skip_out_of_order", "courses_grade_skip_wrong_school"),
    summary="Decide a grade skip at your level, in order: the student's school's coordinator, then staff, then admin",
)
async def decide_grade_skip(principal: Decider, application_id: uuid.UUID, body: GradeSkipDecisionIn, session: DbSession) -> GradeSkipOut:
    """`level` is the caller's role and the level the application waits for; a coordinator decides
    for their own school's students only. A refusal ends the application; admin's approval
    grants it and publishes `courses.grade_skip.approved` (tracking moves the student's grade)."""
    found = await service.decide_grade_skip(session, principal, application_id, body.level, body.outcome, body.reason)
    return (await grade_skips_out(session, [found]))[0]


@grade_skips.post(
    "/{application_id}/withdraw", response_model=GradeSkipOut,
    responses=problem_responses("courses_grade_skip_not_found", "courses_application_decided"),
    summary="Withdraw a pending grade-skip application (the student, or their guardian)",
)
async def withdraw_grade_skip(principal: Applicant, application_id: uuid.UUID, session: DbSession) -> GradeSkipOut:
    """One withdrawn already is answered as it is."""
    return (await grade_skips_out(session, [await service.withdraw(session, principal, GradeSkip, application_id)]))[0]


router.include_router(exemptions)
router.include_router(grade_skips)
