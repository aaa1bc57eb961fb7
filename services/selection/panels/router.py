"""The experts API: staff register experts; an expert reads their entry and declares their conflicts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends
from sqlalchemy import select

from services.selection.db import directory
from services.selection.panels import service
from services.selection.panels.models import Expert
from services.selection.panels.schemas import ConflictIn, ConflictOut, ExpertIn, ExpertOut
from shared.auth import require
from shared.db import DbSession
from shared.pagination import Page, PageParams, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter(prefix="/experts", tags=["experts"])

Staff = Annotated[Principal, Depends(require("staff"))]
Auditor = Annotated[Principal, Depends(require("admin", "staff"))]
Reader = Annotated[Principal, Depends(require("admin", "staff", "expert"))]
Declarer = Annotated[Principal, Depends(require("staff", "expert"))]


async def experts_out(session, experts: list[Expert]) -> list[ExpertOut]:
    names = await directory.display_names(session, [e.person_id for e in experts])
    return [ExpertOut.model_validate({**{c: getattr(e, c) for c in ExpertOut.model_fields if c != "display_name"},
                                      "display_name": names.get(e.person_id)}) for e in experts]


@router.put(
    "/{person_id}", response_model=ExpertOut,
    responses=problem_responses("selection_not_an_expert", "selection_discipline_repeated"),
    summary="Register an expert, or change their entry (type, disciplines, affiliation, maximum load)",
)
async def register_expert(principal: Staff, person_id: uuid.UUID, body: ExpertIn, session: DbSession) -> ExpertOut:
    """The person must hold the `expert` role (give it at the gateway first). Their school and
    partner university come from the directory: an expert is never given a candidate of their
    own school."""
    return (await experts_out(session, [await service.register(session, principal, person_id, body)]))[0]


@router.get("", response_model=Page[ExpertOut], summary="List the registered experts, by id")
async def list_experts(_: Auditor, session: DbSession, page: PageParams) -> Page[ExpertOut]:
    found = await paginate(session, select(Expert), order_by=(Expert.person_id,), params=page)
    return Page(items=await experts_out(session, found.items), next_cursor=found.next_cursor)


@router.get(
    "/{person_id}", response_model=ExpertOut, responses=problem_responses("selection_expert_not_found"),
    summary="Read an expert's entry (staff, or the expert themself)",
)
async def get_expert(principal: Reader, person_id: uuid.UUID, session: DbSession) -> ExpertOut:
    if not service.may_read(principal, person_id):
        raise ProblemError("selection_expert_not_found", expert_id=person_id)
    return (await experts_out(session, [await service.get(session, person_id)]))[0]


@router.post(
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


@router.get(
    "/{person_id}/conflicts", response_model=list[ConflictOut], responses=problem_responses("selection_expert_not_found"),
    summary="The conflicts declared for an expert, still open (staff, or the expert themself)",
)
async def list_conflicts(principal: Reader, person_id: uuid.UUID, session: DbSession) -> list[ConflictOut]:
    if not service.may_read(principal, person_id):
        raise ProblemError("selection_expert_not_found", expert_id=person_id)
    await service.get(session, person_id)
    return [ConflictOut.model_validate(c, from_attributes=True) for c in await service.declared(session, person_id)]
