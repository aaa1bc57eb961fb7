"""The nomination API: coordinators recommend, students nominate themselves, students or guardians withdraw."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import select

from services.selection.campaigns import service as campaigns
from services.selection.db import directory
from services.selection.models import Candidate, CandidateStatus, Discipline
from services.selection.nominations import service
from services.selection.nominations.schemas import CandidateOut, NominationIn, NominationOut, WithdrawIn
from shared.auth import require
from shared.db import DbSession
from shared.idempotency import IdempotencyKey
from shared.pagination import Page, PageParams, paginate
from shared.problems import problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter(tags=["nominations"])

Nominator = Annotated[Principal, Depends(require("coordinator", "student"))]
Withdrawer = Annotated[Principal, Depends(require("student", "guardian"))]
# Who reads candidates: each sees the students the directory lets them see.
Reader = Annotated[Principal, Depends(require("admin", "staff", "coordinator", "student", "guardian"))]


async def candidates_out(session, candidates: list[Candidate]) -> list[CandidateOut]:
    sources = await service.nominations_of(session, [c.id for c in candidates])
    names = await directory.display_names(session, [c.student_id for c in candidates])
    return [
        CandidateOut(
            id=c.id, campaign_id=c.campaign_id, student_id=c.student_id, display_name=names.get(c.student_id),
            discipline=c.discipline, school_id=c.school_id, grade=c.grade, status=c.status,
            nominations=[NominationOut.model_validate(n, from_attributes=True) for n in sources[c.id]],
            withdrawn_at=c.withdrawn_at, withdrawal_reason=c.withdrawal_reason, created_at=c.created_at,
        )
        for c in candidates
    ]


@router.post(
    "/campaigns/{campaign_id}/nominations", status_code=201, response_model=CandidateOut,
    responses=problem_responses(
        "selection_campaign_not_found", "selection_nomination_closed", "selection_discipline_not_offered",
        "selection_source_not_allowed", "selection_student_required", "student_not_found", "selection_not_a_student", "selection_school_required",
        "selection_grade_not_eligible", "consent_required", "selection_school_limit_reached",
        "selection_nomination_duplicate", "selection_candidate_withdrawn",
    ),
    summary="Nominate a student for a discipline: a school's recommendation or the student's own",
)
async def nominate(
    principal: Nominator, campaign_id: uuid.UUID, body: NominationIn, session: DbSession, idempotency: IdempotencyKey
) -> CandidateOut:
    """A coordinator recommends a student of their school (`source: school`), within the
    campaign's per-school limit; a student nominates themself (`source: self`), and a child
    under 14 needs a guardian's participation consent first. While the nomination stage is
    open. A second nomination of the same student for the same discipline joins the same
    candidate: the answer is the candidate with all their nominations."""
    candidate, _ = await service.nominate(session, principal, campaign_id, body)
    return await idempotency.save((await candidates_out(session, [candidate]))[0])


@router.get(
    "/campaigns/{campaign_id}/candidates", response_model=Page[CandidateOut],
    responses=problem_responses("selection_campaign_not_found"),
    summary="List the campaign's candidates you may see, by discipline then id",
)
async def list_candidates(
    principal: Reader, campaign_id: uuid.UUID, session: DbSession, page: PageParams,
    discipline: Annotated[Discipline | None, Query()] = None,
    school_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[CandidateStatus | None, Query()] = None,
) -> Page[CandidateOut]:
    """Staff and admin see all; a coordinator their school's students; a guardian their
    children; a student themself."""
    await campaigns.get(session, campaign_id)
    stmt = select(Candidate).where(Candidate.campaign_id == campaign_id, directory.visible(principal, Candidate.student_id))
    if discipline is not None:
        stmt = stmt.where(Candidate.discipline == discipline)
    if school_id is not None:
        stmt = stmt.where(Candidate.school_id == school_id)
    if status is not None:
        stmt = stmt.where(Candidate.status == status)
    found = await paginate(session, stmt, order_by=(Candidate.discipline, Candidate.id), params=page)
    return Page(items=await candidates_out(session, found.items), next_cursor=found.next_cursor)


@router.get(
    "/candidates/{candidate_id}", response_model=CandidateOut, responses=problem_responses("selection_candidate_not_found"),
    summary="Read a candidate you may see, with their nominations",
)
async def get_candidate(principal: Reader, candidate_id: uuid.UUID, session: DbSession) -> CandidateOut:
    return (await candidates_out(session, [await service.get_visible(session, principal, candidate_id)]))[0]


@router.post(
    "/candidates/{candidate_id}/withdraw", response_model=CandidateOut,
    responses=problem_responses(
        "selection_candidate_not_found", "selection_withdrawal_not_allowed", "selection_candidate_withdrawn",
        "selection_withdrawal_closed",
    ),
    summary="Withdraw a candidacy (the student, or a guardian), until decisions are made",
)
async def withdraw(principal: Withdrawer, candidate_id: uuid.UUID, body: WithdrawIn, session: DbSession) -> CandidateOut:
    candidate = await service.withdraw(session, principal, candidate_id, body.reason)
    return (await candidates_out(session, [candidate]))[0]
