"""The results API: staff rank and decide; everyone signed in reads the published list and may object;
candidates and guardians read how their result was reached."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import select

from services.selection.campaigns import service as campaigns
from services.selection.models import Discipline, Stage, stage_index
from services.selection.nominations import service as nominations
from services.selection.results import service
from services.selection.results.models import Objection
from services.selection.results.schemas import (
    AnswerIn, DecisionIn, DecisionOut, Explanation, ObjectionIn, ObjectionOut, PublishedLine, Standing,
)
from shared.auth import USER_ROLES, CurrentPrincipal, require
from shared.db import DbSession
from shared.pagination import Page, PageParams, paginate
from shared.personal import mask_name
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter(tags=["results"])

Staff = Annotated[Principal, Depends(require("staff"))]
Auditor = Annotated[Principal, Depends(require("admin", "staff"))]
# Any person signed in (not a machine client) may object to a published admission.
Person = Annotated[Principal, Depends(require(*USER_ROLES))]
Explained = Annotated[Principal, Depends(require("admin", "staff", "student", "guardian"))]


@router.get(
    "/campaigns/{campaign_id}/ranking", response_model=list[Standing],
    responses=problem_responses("selection_campaign_not_found", "selection_discipline_not_offered"),
    summary="A discipline's candidates ranked, with every stage's numbers and the proposal the quota makes",
)
async def ranking(_: Auditor, campaign_id: uuid.UUID, discipline: Discipline, session: DbSession) -> list[Standing]:
    """Composite: each stage on 0-100 (tests scaled, the interview corrected for the experts'
    severity), weighted by the discipline's weights; an exempt stage's weight goes to the
    others; an absent or missing stage makes the candidate incomplete (ranked last). Ties:
    interview, then written test, then IQ test, then candidate id. The first `quota` are
    proposed for admission, the next `quota` for the waiting list."""
    campaign = await campaigns.get(session, campaign_id)
    lines = await service.standings(session, campaign, await campaigns.discipline(session, campaign_id, discipline))
    decided = await service.decisions(session, [x.candidate.id for x in lines])
    return [
        Standing(
            candidate_id=x.candidate.id, discipline=x.candidate.discipline, rank=x.ranked.rank, composite=x.ranked.composite,
            proposal=x.ranked.proposal, stages=x.stages,
            decision=decided[x.candidate.id].outcome if x.candidate.id in decided else None,
            against_ranking=decided[x.candidate.id].against_ranking if x.candidate.id in decided else None,
            reason=decided[x.candidate.id].reason if x.candidate.id in decided else None,
        )
        for x in lines
    ]


@router.put(
    "/candidates/{candidate_id}/decision", response_model=DecisionOut,
    responses=problem_responses(
        "selection_candidate_not_found", "selection_stage_closed", "selection_candidate_withdrawn",
        "selection_decision_reason_required",
    ),
    summary="Record the decision on a candidate: admitted, waitlisted or rejected",
)
async def decide(principal: Staff, candidate_id: uuid.UUID, body: DecisionIn, session: DbSession) -> DecisionOut:
    """In the decision stage. A decision other than the ranking's proposal needs a `reason`,
    and is marked `against_ranking` in the answer, the ranking and the record."""
    return DecisionOut.model_validate(await service.decide(session, principal, candidate_id, body), from_attributes=True)


@router.get(
    "/campaigns/{campaign_id}/published", response_model=list[PublishedLine],
    responses=problem_responses("selection_campaign_not_found", "selection_not_published"),
    summary="The published list of admitted candidates (公示), names masked",
)
async def published(_: CurrentPrincipal, campaign_id: uuid.UUID, session: DbSession) -> list[PublishedLine]:
    return [
        PublishedLine(candidate_id=c.id, name=mask_name(name or ""), school=school, discipline=c.discipline)
        for c, name, school in await service.published(session, campaign_id)
    ]


@router.post(
    "/candidates/{candidate_id}/objections", status_code=201, response_model=ObjectionOut,
    responses=problem_responses(
        "selection_person_required", "selection_candidate_not_found", "selection_objection_window_closed", "selection_objection_duplicate",
    ),
    summary="Object to a published admission, once, with a reason",
)
async def object_to(principal: Person, candidate_id: uuid.UUID, body: ObjectionIn, session: DbSession) -> ObjectionOut:
    """While the objection window is open; by a person (a machine client cannot). Staff answer
    every objection in writing; the results become final only after the window has closed
    and every objection is answered."""
    if principal.kind != "user":
        raise ProblemError("selection_person_required")
    return ObjectionOut.model_validate(await service.object_to(session, principal, candidate_id, body.reason), from_attributes=True)


@router.get(
    "/campaigns/{campaign_id}/objections", response_model=Page[ObjectionOut],
    responses=problem_responses("selection_campaign_not_found"),
    summary="Objections to the campaign's published list: staff see all, anyone else their own",
)
async def list_objections(
    principal: Person, campaign_id: uuid.UUID, session: DbSession, page: PageParams,
    unanswered: Annotated[bool, Query(description="Only those not answered yet.")] = False,
) -> Page[ObjectionOut]:
    await campaigns.get(session, campaign_id)
    stmt = select(Objection).where(Objection.campaign_id == campaign_id)
    if not principal.has_role("admin", "staff"):
        stmt = stmt.where(Objection.objector_id == principal.id)
    if unanswered:
        stmt = stmt.where(Objection.answered_at.is_(None))
    found = await paginate(session, stmt, order_by=(Objection.created_at, Objection.id), params=page)
    return Page(items=[ObjectionOut.model_validate(o, from_attributes=True) for o in found.items], next_cursor=found.next_cursor)


@router.post(
    "/objections/{objection_id}/answer", response_model=ObjectionOut,
    responses=problem_responses("selection_objection_not_found", "selection_objection_answered", "selection_stage_closed"),
    summary="Answer an objection in writing",
)
async def answer(principal: Staff, objection_id: uuid.UUID, body: AnswerIn, session: DbSession) -> ObjectionOut:
    return ObjectionOut.model_validate(await service.answer(session, principal, objection_id, body.answer), from_attributes=True)


@router.get(
    "/candidates/{candidate_id}/explanation", response_model=Explanation,
    responses=problem_responses("selection_candidate_not_found", "selection_explanation_not_ready", "selection_candidate_withdrawn"),
    summary="How a candidate's result was reached: each stage, the weights, the correction, the rank, the cut-off",
)
async def explanation(principal: Explained, candidate_id: uuid.UUID, session: DbSession) -> Explanation:
    """For the candidate, their guardians and staff (PIPL art. 24), once the results are
    published (staff: at any time)."""
    candidate = await nominations.get_visible(session, principal, candidate_id)
    campaign = await campaigns.get(session, candidate.campaign_id)
    if not principal.has_role("admin", "staff") and stage_index(campaign.stage) < stage_index(Stage.publication):
        raise ProblemError("selection_explanation_not_ready")
    discipline = await campaigns.discipline(session, campaign.id, candidate.discipline)
    lines = await service.standings(session, campaign, discipline)
    mine = next((x for x in lines if x.candidate.id == candidate_id), None)
    if mine is None:  # withdrawn: not ranked
        raise ProblemError("selection_candidate_withdrawn", withdrawn_at=candidate.withdrawn_at.isoformat() if candidate.withdrawn_at else "")
    admitted = [x.ranked.composite for x in lines if x.ranked.proposal == "admitted"]
    decision = (await service.decisions(session, [candidate_id])).get(candidate_id)
    return Explanation(
        candidate_id=candidate_id, discipline=candidate.discipline, stages=mine.stages, composite=mine.ranked.composite,
        rank=mine.ranked.rank, candidates=len(lines), quota=discipline.quota, cut_off=admitted[-1] if admitted else None,
        proposal=mine.ranked.proposal, outcome=decision.outcome if decision else None,
        reason=decision.reason if decision and decision.against_ranking else None, method=service.explanation_method(),
    )
