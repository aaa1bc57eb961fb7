"""The mentors API: the registry, conflicts of interest, and who needs a mentor."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.mentoring.db import conflicts, directory
from services.mentoring.mentors import service
from services.mentoring.mentors.schemas import MentorIn, MentorOut, NeedOut
from services.mentoring.models import Discipline, Mentor, MentorKind, Need, NeedKind
from shared.auth import require
from shared.conflicts import ConflictIn, ConflictOut
from shared.db import DbSession
from shared.pagination import Page, PageParams, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter()
mentors = APIRouter(prefix="/mentors", tags=["mentors"])
needs = APIRouter(prefix="/needs", tags=["needs"])

Writer = Annotated[Principal, Depends(require("staff", "mentor"))]
Auditor = Annotated[Principal, Depends(require("admin", "staff", "mentor"))]
# Students and guardians browse the mentors to rank them; coordinators to advise their students.
Browser = Annotated[Principal, Depends(require("admin", "staff", "mentor", "coordinator", "student", "guardian"))]
NeedReader = Annotated[Principal, Depends(require("admin", "staff", "mentor", "coordinator", "student", "guardian"))]


async def mentors_out(session: AsyncSession, found: list[Mentor]) -> list[MentorOut]:
    ids = [m.person_id for m in found]
    names = await directory.display_names(session, ids)
    counts = await service.mentees(session, ids)
    return [MentorOut.model_validate({
        **{c: getattr(m, c) for c in MentorOut.model_fields if c not in ("display_name", "lab_mentees", "life_mentees")},
        "display_name": names.get(m.person_id), "lab_mentees": counts.get((m.person_id, NeedKind.lab), 0),
        "life_mentees": counts.get((m.person_id, NeedKind.life), 0),
    }) for m in found]


@mentors.put(
    "/{person_id}", response_model=MentorOut,
    responses=problem_responses(
        "mentoring_mentor_not_found", "mentoring_not_a_mentor", "mentoring_mentor_entry_invalid", "mentoring_capacity_below_mentees",
    ),
    summary="Register a mentor, or change their entry (staff, or the mentor themself)",
)
async def register_mentor(principal: Writer, person_id: uuid.UUID, body: MentorIn, session: DbSession) -> MentorOut:
    """The person must hold the `mentor` role (give it at the gateway first); their school and
    partner come from the directory. A capacity below the mentees the mentor has now is refused
    (`mentoring_capacity_below_mentees`); pausing (`active: false`) keeps the mentees."""
    return (await mentors_out(session, [await service.register(session, principal, person_id, body)]))[0]


@mentors.get("", response_model=Page[MentorOut], summary="List the mentors, by id: staff every one, others the active ones")
async def list_mentors(
    principal: Browser, session: DbSession, page: PageParams,
    kind: Annotated[MentorKind | None, Query(description="lab or life: the mentors giving that kind (both included).")] = None,
    discipline: Discipline | None = None,
) -> Page[MentorOut]:
    stmt = select(Mentor)
    if not principal.has_role("admin", "staff"):
        stmt = stmt.where(Mentor.active.is_(True))
    if kind is not None and kind is not MentorKind.both:
        stmt = stmt.where(Mentor.kind.in_([kind, MentorKind.both]))
    elif kind is MentorKind.both:
        stmt = stmt.where(Mentor.kind == MentorKind.both)
    if discipline is not None:
        stmt = stmt.where(Mentor.disciplines.contains([discipline.value]))
    found = await paginate(session, stmt, order_by=(Mentor.person_id,), params=page)
    return Page(items=await mentors_out(session, found.items), next_cursor=found.next_cursor)


@mentors.get(
    "/{person_id}", response_model=MentorOut, responses=problem_responses("mentoring_mentor_not_found"),
    summary="Read a mentor's entry (a paused one: staff and the mentor themself only)",
)
async def get_mentor(principal: Browser, person_id: uuid.UUID, session: DbSession) -> MentorOut:
    mentor = await service.get(session, person_id)
    if not mentor.active and not (principal.has_role("admin", "staff") or service.own(principal, person_id)):
        raise ProblemError("mentoring_mentor_not_found", mentor_id=person_id)
    return (await mentors_out(session, [mentor]))[0]


@mentors.post(
    "/{person_id}/conflicts", status_code=201, response_model=ConflictOut,
    responses=problem_responses("mentoring_mentor_not_found", "student_not_found", "conflict_reason_required"),
    summary="Declare a conflict of interest with a student (the mentor for themself, or staff)",
)
async def declare_conflict(principal: Writer, person_id: uuid.UUID, body: ConflictIn, session: DbSession) -> ConflictOut:
    """A mentor never mentors a relative or a student they teach now (`taught`). Declaring the
    same open conflict again answers it as first declared; a guardian needs no declaration."""
    return ConflictOut.model_validate(await service.declare(session, principal, person_id, body), from_attributes=True)


@mentors.get(
    "/{person_id}/conflicts", response_model=list[ConflictOut], responses=problem_responses("mentoring_mentor_not_found"),
    summary="The conflicts declared for a mentor, still open (staff, or the mentor themself)",
)
async def list_conflicts(principal: Auditor, person_id: uuid.UUID, session: DbSession) -> list[ConflictOut]:
    if not (principal.has_role("admin", "staff") or service.own(principal, person_id)):
        raise ProblemError("mentoring_mentor_not_found", mentor_id=person_id)
    await service.get(session, person_id)
    return [ConflictOut.model_validate(c, from_attributes=True) for c in await conflicts.declared(session, person_id)]


@needs.get("", response_model=Page[NeedOut], summary="Who needs a mentor, by admission: the rows you may see")
async def list_needs(
    principal: NeedReader, session: DbSession, page: PageParams,
    kind: NeedKind | None = None, discipline: Discipline | None = None,
    open: Annotated[bool, Query(description="Only needs still open (the student has not exited).")] = True,
    student_id: uuid.UUID | None = None,
) -> Page[NeedOut]:
    """Staff see every student's; a coordinator their school's, a guardian their children's, a
    student their own, a mentor their mentees'. Each need opens when the student is admitted
    (`selection.candidate.admitted`) and closes when they exit (`tracking.student.exited`)."""
    stmt = service.needs_query(principal, kind=kind, discipline=discipline.value if discipline else None, open_only=open, student_id=student_id)
    found = await paginate(session, stmt, order_by=(Need.opened_at, Need.id), params=page)
    names = await directory.display_names(session, [r["Need"].student_id for r in found.items])
    return Page(items=[_need_out(r, names) for r in found.items], next_cursor=found.next_cursor)


def _need_out(row: dict[str, Any], names: dict[uuid.UUID, str]) -> NeedOut:
    need: Need = row["Need"]
    return NeedOut.model_validate({
        **{c: getattr(need, c) for c in NeedOut.model_fields if c not in ("display_name", "mentor_id")},
        "display_name": names.get(need.student_id), "mentor_id": row["mentor_id"],
    })


router.include_router(mentors)
router.include_router(needs)
