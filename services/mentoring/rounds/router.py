"""The rounds API: staff open matching rounds; students rank lab mentors in the window."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends
from sqlalchemy import select

from services.mentoring.db import directory
from services.mentoring.models import Need, Preference, Round
from services.mentoring.rounds import service
from services.mentoring.rounds.schemas import PreferenceRow, PreferencesIn, PreferencesOut, Ranked, RoundIn, RoundOut
from shared.auth import require
from shared.db import DbSession
from shared.pagination import Page, PageParams, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter(prefix="/rounds", tags=["rounds"])

Staff = Annotated[Principal, Depends(require("staff"))]
Ranker = Annotated[Principal, Depends(require("staff", "student"))]
Reader = Annotated[Principal, Depends(require("admin", "staff", "mentor", "coordinator", "student", "guardian"))]


@router.post("", status_code=201, response_model=RoundOut, responses=problem_responses("mentoring_round_window_invalid"),
             summary="Open a matching round for a cohort: lab (preferences, then a stable matching) or life")
async def create_round(principal: Staff, body: RoundIn, session: DbSession) -> RoundOut:
    return RoundOut.model_validate(await service.create(session, principal, body), from_attributes=True)


@router.get("", response_model=Page[RoundOut], summary="The matching rounds, newest window first")
async def list_rounds(_: Reader, session: DbSession, page: PageParams) -> Page[RoundOut]:
    found = await paginate(session, select(Round), order_by=(Round.opens_at.desc(), Round.id), params=page)
    return Page(items=[RoundOut.model_validate(r, from_attributes=True) for r in found.items], next_cursor=found.next_cursor)


@router.get("/{round_id}", response_model=RoundOut, responses=problem_responses("mentoring_round_not_found"), summary="A matching round")
async def get_round(_: Reader, round_id: uuid.UUID, session: DbSession) -> RoundOut:
    return RoundOut.model_validate(await service.get(session, round_id), from_attributes=True)


@router.put(
    "/{round_id}/preferences/{need_id}", response_model=PreferencesOut,
    responses=problem_responses(
        "mentoring_round_not_found", "mentoring_round_takes_no_preferences", "mentoring_need_not_found", "mentoring_window_closed",
        "mentoring_preference_repeated", "mentoring_mentor_not_eligible", "mentoring_mentor_conflicted",
    ),
    summary="Rank lab mentors for one of your needs (a student; staff for any student), first choice first",
)
async def set_preferences(principal: Ranker, round_id: uuid.UUID, need_id: uuid.UUID, body: PreferencesIn, session: DbSession) -> PreferencesOut:
    """The whole list at once, replacing the last one; up to ten mentors. Each must be active,
    give lab mentoring in the need's discipline with at least one place, and have no conflict of
    interest with the student; the first that fails is named with its rule. Only while the
    round's window is open. The matching is strategy-proof for students: ranking mentors in
    your true order is always your best choice."""
    found, need = await service.set_preferences(session, principal, round_id, need_id, body.mentors)
    return await _preferences_out(session, found, need)


@router.get(
    "/{round_id}/preferences/{need_id}", response_model=PreferencesOut,
    responses=problem_responses("mentoring_round_not_found", "mentoring_need_not_found"),
    summary="A student's list for one need (the student, their guardians and school's coordinator, staff)",
)
async def get_preferences(principal: Reader, round_id: uuid.UUID, need_id: uuid.UUID, session: DbSession) -> PreferencesOut:
    found = await service.get(session, round_id)
    need = (await session.execute(select(Need).where(Need.id == need_id, directory.visible(principal, Need.student_id)))).scalar_one_or_none()
    if need is None:
        raise ProblemError("mentoring_need_not_found", need_id=need_id)
    return await _preferences_out(session, found, need)


@router.get(
    "/{round_id}/preferences", response_model=Page[PreferenceRow], responses=problem_responses("mentoring_round_not_found"),
    summary="Every place of every list you may see, by student then rank (a mentor: the places naming them)",
)
async def list_preferences(principal: Reader, round_id: uuid.UUID, session: DbSession, page: PageParams) -> Page[PreferenceRow]:
    await service.get(session, round_id)
    stmt = select(Preference).where(Preference.round_id == round_id, service.visible_preferences(principal))
    found = await paginate(session, stmt, order_by=(Preference.student_id, Preference.need_id, Preference.rank), params=page)
    return Page(items=[PreferenceRow.model_validate(p, from_attributes=True) for p in found.items], next_cursor=found.next_cursor)


async def _preferences_out(session, found: Round, need: Need) -> PreferencesOut:
    rows = await service.preferences_of(session, found.id, need.id)
    names = await directory.display_names(session, [p.mentor_id for p in rows])
    return PreferencesOut(round_id=found.id, need_id=need.id, student_id=need.student_id, discipline=need.discipline,
                          mentors=[Ranked(mentor_id=p.mentor_id, display_name=names.get(p.mentor_id), rank=p.rank) for p in rows])
