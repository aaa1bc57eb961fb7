"""The experts API: staff register experts; an expert reads their entry and declares their conflicts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends
from sqlalchemy import select

from services.selection.campaigns import service as campaigns
from services.selection.db import directory
from services.selection.models import Candidate, Stage
from services.selection.panels import service
from services.selection.panels.models import Expert
from services.selection.panels.schemas import ConflictIn, ConflictOut, ExpertIn, ExpertOut, Panel, PanelsOut
from shared.auth import require
from shared.db import DbSession
from shared.pagination import Page, PageParams, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter()
experts = APIRouter(prefix="/experts", tags=["experts"])
panels = APIRouter(prefix="/campaigns", tags=["panels"])

Staff = Annotated[Principal, Depends(require("staff"))]
Auditor = Annotated[Principal, Depends(require("admin", "staff"))]
Reader = Annotated[Principal, Depends(require("admin", "staff", "expert"))]
Declarer = Annotated[Principal, Depends(require("staff", "expert"))]


async def experts_out(session, experts: list[Expert]) -> list[ExpertOut]:
    names = await directory.display_names(session, [e.person_id for e in experts])
    return [ExpertOut.model_validate({**{c: getattr(e, c) for c in ExpertOut.model_fields if c != "display_name"},
                                      "display_name": names.get(e.person_id)}) for e in experts]


@experts.put(
    "/{person_id}", response_model=ExpertOut,
    responses=problem_responses("selection_not_an_expert", "selection_discipline_repeated"),
    summary="Register an expert, or change their entry (type, disciplines, affiliation, maximum load)",
)
async def register_expert(principal: Staff, person_id: uuid.UUID, body: ExpertIn, session: DbSession) -> ExpertOut:
    """The person must hold the `expert` role (give it at the gateway first). Their school and
    partner university come from the directory: an expert is never given a candidate of their
    own school."""
    return (await experts_out(session, [await service.register(session, principal, person_id, body)]))[0]


@experts.get("", response_model=Page[ExpertOut], summary="List the registered experts, by id")
async def list_experts(_: Auditor, session: DbSession, page: PageParams) -> Page[ExpertOut]:
    found = await paginate(session, select(Expert), order_by=(Expert.person_id,), params=page)
    return Page(items=await experts_out(session, found.items), next_cursor=found.next_cursor)


@experts.get(
    "/{person_id}", response_model=ExpertOut, responses=problem_responses("selection_expert_not_found"),
    summary="Read an expert's entry (staff, or the expert themself)",
)
async def get_expert(principal: Reader, person_id: uuid.UUID, session: DbSession) -> ExpertOut:
    if not service.may_read(principal, person_id):
        raise ProblemError("selection_expert_not_found", expert_id=person_id)
    return (await experts_out(session, [await service.get(session, person_id)]))[0]


@experts.post(
    "/{person_id}/conflicts", status_code=201, response_model=ConflictOut,
    responses=problem_responses("selection_expert_not_found", "student_not_found", "conflict_reason_required"),
    summary="Declare a conflict of interest with a student (the expert for themself, or staff)",
)
async def declare_conflict(principal: Declarer, person_id: uuid.UUID, body: ConflictIn, session: DbSession) -> ConflictOut:
    """Declaring the same open conflict again answers it as first declared. Conflicts found
    from the directory (the expert's school is the student's, the expert is the student's
    guardian) need no declaration."""
    found = await service.declare(session, principal, person_id, body)
    return ConflictOut.model_validate(found, from_attributes=True)


@experts.get(
    "/{person_id}/conflicts", response_model=list[ConflictOut], responses=problem_responses("selection_expert_not_found"),
    summary="The conflicts declared for an expert, still open (staff, or the expert themself)",
)
async def list_conflicts(principal: Reader, person_id: uuid.UUID, session: DbSession) -> list[ConflictOut]:
    if not service.may_read(principal, person_id):
        raise ProblemError("selection_expert_not_found", expert_id=person_id)
    await service.get(session, person_id)
    return [ConflictOut.model_validate(c, from_attributes=True) for c in await service.declared(session, person_id)]


def panels_out(candidates, result, *, saved: bool) -> PanelsOut:
    discipline = {c.id: c.discipline for c in candidates}
    return PanelsOut(
        saved=saved, panels=[Panel(candidate_id=c, discipline=discipline[c], experts=list(m)) for c, m in result.panels.items()],
        loads={str(e): n for e, n in result.loads.items()}, spread=result.spread, mixed_panels=result.mixed_panels,
        fitting_panels=result.fitting_panels,
    )


ASSIGNING = ("selection_campaign_not_found", "selection_stage_closed", "selection_assignment_infeasible")


@panels.post(
    "/{campaign_id}/panels/preview", response_model=PanelsOut, responses=problem_responses(*ASSIGNING),
    summary="Preview the interview panels: the campaign's panel size of experts per candidate; nothing is stored",
)
async def preview_panels(_: Staff, campaign_id: uuid.UUID, session: DbSession) -> PanelsOut:
    """One min-cost flow: never a conflicted pair, each expert within their maximum load, loads
    as even as the conflicts allow, every panel mixing expert types where the pool allows,
    then experts of the candidate's discipline. An impossible assignment answers
    `selection_assignment_infeasible` naming the constraint (`panel_size`, `capacity`,
    `conflicts`, `capacity_after_conflicts`) and whom it concerns."""
    campaign = await campaigns.get(session, campaign_id)
    campaigns.require_open(campaign, Stage.interview)
    candidates, result = await service.propose(session, campaign)
    return panels_out(candidates, result, saved=False)


@panels.post(
    "/{campaign_id}/panels", response_model=PanelsOut, responses=problem_responses(*ASSIGNING),
    summary="Assign the interview panels and store them (in place of an earlier assignment)",
)
async def save_panels(principal: Staff, campaign_id: uuid.UUID, session: DbSession) -> PanelsOut:
    """Computed again in the same transaction, so it holds for the candidates and experts as they are now."""
    candidates, result = await service.save(session, principal, campaign_id)
    return panels_out(candidates, result, saved=True)


@panels.get(
    "/{campaign_id}/panels", response_model=list[Panel], responses=problem_responses("selection_campaign_not_found"),
    summary="The stored interview panels, by candidate",
)
async def list_panels(_: Auditor, campaign_id: uuid.UUID, session: DbSession) -> list[Panel]:
    await campaigns.get(session, campaign_id)
    stored = await service.panels(session, campaign_id)
    found = (await session.execute(select(Candidate.id, Candidate.discipline).where(Candidate.id.in_(list(stored))))).all() if stored else []
    discipline = dict(found)
    return [Panel(candidate_id=c, discipline=discipline[c], experts=m) for c, m in stored.items()]


router.include_router(experts)
router.include_router(panels)
