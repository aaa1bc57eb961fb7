"""The runs API: mentors rank their applicants; staff draft a round's run, force or ban pairs, publish it once."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends
from sqlalchemy import select

from services.mentoring.rounds.service import get as get_round
from services.mentoring.runs import service
from services.mentoring.runs.models import Override, Run, RunEntry, RunStatus
from services.mentoring.runs.schemas import OverrideIn, OverrideOut, RankingIn, RankingOut, RunEntryOut, RunOut
from shared.auth import require
from shared.db import DbSession
from shared.ids import as_uuid
from shared.pagination import Page, PageParams, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter(prefix="/rounds", tags=["runs"])

Staff = Annotated[Principal, Depends(require("staff"))]
Overseer = Annotated[Principal, Depends(require("admin", "staff"))]
Ranker = Annotated[Principal, Depends(require("staff", "mentor"))]
RankReader = Annotated[Principal, Depends(require("admin", "staff", "mentor"))]
Reader = Annotated[Principal, Depends(require("admin", "staff", "mentor", "coordinator", "student", "guardian"))]

WINDOW_AND_FORCE = ("mentoring_round_not_found", "mentoring_round_published", "mentoring_window_open", "mentoring_force_invalid",
                    "mentoring_force_over_capacity")


def _sees_drafts(principal: Principal) -> bool:
    return principal.has_role("admin") or principal.has_role("staff")


@router.put(
    "/{round_id}/rankings/{mentor_id}", response_model=RankingOut,
    responses=problem_responses("mentoring_round_not_found", "mentoring_round_takes_no_preferences", "mentoring_mentor_not_found",
                                "mentoring_round_published", "mentoring_applicant_repeated", "mentoring_applicant_unknown"),
    summary="Rank the students who listed you in a lab round (a mentor; staff for any mentor), first choice first",
)
async def set_ranking(principal: Ranker, round_id: uuid.UUID, mentor_id: uuid.UUID, body: RankingIn, session: DbSession) -> RankingOut:
    """The whole ranking at once, replacing the last, by need (a student admitted in two
    disciplines has a need per discipline). With a ranking, the mentor takes only the students
    in it; without one (or after an empty list), every applicant in the round's default order.
    Until the round's run is published. Each need must have listed the mentor in this round."""
    await service.set_ranking(session, principal, round_id, mentor_id, body.needs)
    return RankingOut(round_id=round_id, mentor_id=mentor_id, needs=[r.need_id for r in await service.ranking_of(session, round_id, mentor_id)])


@router.get(
    "/{round_id}/rankings/{mentor_id}", response_model=RankingOut, responses=problem_responses("mentoring_round_not_found", "mentoring_mentor_not_found"),
    summary="A mentor's ranking of their applicants (the mentor, staff)",
)
async def get_ranking(principal: RankReader, round_id: uuid.UUID, mentor_id: uuid.UUID, session: DbSession) -> RankingOut:
    await get_round(session, round_id)
    if not _sees_drafts(principal) and as_uuid(principal.id) != mentor_id:
        raise ProblemError("mentoring_mentor_not_found", mentor_id=mentor_id)
    return RankingOut(round_id=round_id, mentor_id=mentor_id, needs=[r.need_id for r in await service.ranking_of(session, round_id, mentor_id)])


@router.post(
    "/{round_id}/runs", status_code=201, response_model=RunOut, responses=problem_responses(*WINDOW_AND_FORCE),
    summary="Draft the round's run as things stand (it supersedes the round's last draft)",
)
async def draft_run(principal: Staff, round_id: uuid.UUID, session: DbSession) -> RunOut:
    """After the round's window has closed, until it is published. A lab run is the
    student-optimal stable matching around the forced pairs (`given_up` lists any blocking pair
    they leave); a life run balances the mentors' loads. Each entry explains itself
    (`GET .../runs/{run_id}/entries`)."""
    return RunOut.model_validate(await service.draft(session, principal, round_id), from_attributes=True)


@router.get("/{round_id}/runs", response_model=Page[RunOut], responses=problem_responses("mentoring_round_not_found"),
            summary="The round's runs, newest first (staff)")
async def list_runs(_: Overseer, round_id: uuid.UUID, session: DbSession, page: PageParams) -> Page[RunOut]:
    await get_round(session, round_id)
    found = await paginate(session, select(Run).where(Run.round_id == round_id), order_by=(Run.number.desc(), Run.id), params=page)
    return Page(items=[RunOut.model_validate(r, from_attributes=True) for r in found.items], next_cursor=found.next_cursor)


async def _readable_run(principal: Principal, session, round_id: uuid.UUID, run_id: uuid.UUID) -> Run:
    run = await service.get_run(session, round_id, run_id)
    if run.status is not RunStatus.published and not _sees_drafts(principal):
        raise ProblemError("mentoring_run_not_found", run_id=run_id)
    return run


@router.get("/{round_id}/runs/{run_id}", response_model=RunOut, responses=problem_responses("mentoring_run_not_found"),
            summary="A run (drafts: staff; the published run: everyone who reads the round)")
async def get_run(principal: Reader, round_id: uuid.UUID, run_id: uuid.UUID, session: DbSession) -> RunOut:
    return RunOut.model_validate(await _readable_run(principal, session, round_id, run_id), from_attributes=True)


@router.get(
    "/{round_id}/runs/{run_id}/entries", response_model=Page[RunEntryOut], responses=problem_responses("mentoring_run_not_found"),
    summary="A run's entries with their explanations, by need (staff all; of the published run a student their own, a guardian their child's, a mentor their pairs)",
)
async def list_entries(principal: Reader, round_id: uuid.UUID, run_id: uuid.UUID, session: DbSession, page: PageParams) -> Page[RunEntryOut]:
    """Why each student has the mentor they have, or none: the ranks on both sides, what
    decided it, and each mentor they ranked higher with the reason it passed them by."""
    await _readable_run(principal, session, round_id, run_id)
    stmt = select(RunEntry).where(RunEntry.run_id == run_id, service.visible_entries(principal))
    found = await paginate(session, stmt, order_by=(RunEntry.need_id,), params=page)
    return Page(items=[RunEntryOut.model_validate(e, from_attributes=True) for e in found.items], next_cursor=found.next_cursor)


@router.post(
    "/{round_id}/runs/{run_id}/publish", response_model=RunOut,
    responses=problem_responses("mentoring_round_not_found", "mentoring_run_not_found", "mentoring_run_published", "mentoring_round_published",
                                "mentoring_run_superseded", "mentoring_run_stale"),
    summary="Publish the round's draft: each pair becomes an active mentorship and goes out as mentoring.mentor.assigned",
)
async def publish_run(principal: Staff, round_id: uuid.UUID, run_id: uuid.UUID, session: DbSession) -> RunOut:
    """Once per round: publishing again is refused (`mentoring_run_published`), as is an
    earlier draft (`mentoring_run_superseded`). Refused with `mentoring_run_stale` when what the
    draft rests on changed (a student left or was given a mentor, a mentor's places shrank or
    they paused): draft again."""
    return RunOut.model_validate(await service.publish(session, principal, round_id, run_id), from_attributes=True)


@router.put(
    "/{round_id}/overrides/{need_id}/{mentor_id}", response_model=RunOut,
    responses=problem_responses(*WINDOW_AND_FORCE, "mentoring_need_not_found", "mentoring_mentor_not_found", "mentoring_mentor_not_eligible",
                                "mentoring_mentor_conflicted"),
    summary="Force or ban a pair with a reason; the run is drafted again around it (the new draft is the answer)",
)
async def set_override(principal: Staff, round_id: uuid.UUID, need_id: uuid.UUID, mentor_id: uuid.UUID, body: OverrideIn,
                       session: DbSession) -> RunOut:
    """A forced mentor must be eligible for the need and free of conflict, within their places;
    a need has at most one forced mentor (a new one replaces it). A ban holds for every later
    run of the round. The new draft's `given_up` names the stability a force gave up."""
    return RunOut.model_validate(
        await service.set_override(session, principal, round_id, need_id, mentor_id, body.action, body.reason), from_attributes=True)


@router.delete(
    "/{round_id}/overrides/{need_id}/{mentor_id}", response_model=RunOut,
    responses=problem_responses(*WINDOW_AND_FORCE, "mentoring_override_not_found"),
    summary="Lift a forced or banned pair; the run is drafted again (the new draft is the answer)",
)
async def remove_override(principal: Staff, round_id: uuid.UUID, need_id: uuid.UUID, mentor_id: uuid.UUID, session: DbSession) -> RunOut:
    return RunOut.model_validate(await service.remove_override(session, principal, round_id, need_id, mentor_id), from_attributes=True)


@router.get("/{round_id}/overrides", response_model=Page[OverrideOut], responses=problem_responses("mentoring_round_not_found"),
            summary="The round's forced and banned pairs with their reasons (staff)")
async def list_overrides(_: Overseer, round_id: uuid.UUID, session: DbSession, page: PageParams) -> Page[OverrideOut]:
    await get_round(session, round_id)
    found = await paginate(session, select(Override).where(Override.round_id == round_id), order_by=(Override.decided_at, Override.id), params=page)
    return Page(items=[OverrideOut.model_validate(o, from_attributes=True) for o in found.items], next_cursor=found.next_cursor)
