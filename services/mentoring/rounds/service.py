"""Matching rounds and the students' preferences.

Staff open a round per cohort and kind. In a lab round, between `opens_at` and `closes_at`, a
student ranks up to ten lab mentors for each of their open lab needs (one per discipline they
were admitted in): each mentor registered, active, giving lab mentoring in that discipline with
room for at least one mentee, and without a conflict of interest with the student (declared, or
their guardian). A new list replaces the old one whole; an empty list withdraws it. Staff may
enter a list for a student (a paper form), in the window too.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.mentoring.db import chain, conflicts, directory
from services.mentoring.models import Mentor, MentorKind, Need, NeedKind, Preference, Round
from services.mentoring.rounds.schemas import RoundIn
from services.mentoring.runs.models import Run, RunStatus
from shared import clock
from shared.db import get_or_raise
from shared.ids import as_uuid, first_repeated
from shared.problems import ProblemError
from shared.tokens import Principal


async def create(session: AsyncSession, principal: Principal, data: RoundIn) -> Round:
    if data.opens_at.tzinfo is None or data.closes_at.tzinfo is None:
        raise ProblemError("mentoring_round_window_invalid", reason="give each time with its time zone, e.g. 2027-09-01T08:00:00+08:00")
    if data.closes_at <= data.opens_at:
        raise ProblemError("mentoring_round_window_invalid", reason="it must close after it opens")
    found = Round(kind=data.kind, cohort_year=data.cohort_year, title=data.title, opens_at=data.opens_at, closes_at=data.closes_at,
                  default_order=data.default_order, created_by=principal.id, created_at=clock.now())
    session.add(found)
    await session.flush()
    await chain.append(session, kind="round.created", table=Round.__table__, row_id=found.id, actor=principal.id)
    return found


async def get(session: AsyncSession, round_id: uuid.UUID) -> Round:
    found = await get_or_raise(session, Round, round_id, ProblemError("mentoring_round_not_found", round_id=round_id))
    return found


async def locked_round(session: AsyncSession, round_id: uuid.UUID) -> Round:
    """The round, locked: its runs, overrides and publication are one at a time."""
    found = (await session.execute(select(Round).where(Round.id == round_id).with_for_update())).scalar_one_or_none()
    if found is None:
        raise ProblemError("mentoring_round_not_found", round_id=round_id)
    return found


async def refuse_published(session: AsyncSession, round_id: uuid.UUID) -> None:
    published = (await session.execute(
        select(Run.id).where(Run.round_id == round_id, Run.status == RunStatus.published))).scalar_one_or_none()
    if published is not None:
        raise ProblemError("mentoring_round_published", round_id=round_id, run_id=published)


def lab_ineligible(mentor: Mentor | None, discipline: str) -> str | None:
    """Why this mentor cannot be ranked for a lab need in `discipline`, in words; None when they can."""
    if mentor is None:
        return "not a registered mentor"
    if not mentor.active:
        return "paused"
    if mentor.kind is MentorKind.life:
        return "gives life mentoring only"
    if discipline not in mentor.disciplines:
        return f"does not mentor {discipline}"
    if mentor.lab_capacity == 0:
        return "has no lab places"
    return None


async def set_preferences(
    session: AsyncSession, principal: Principal, round_id: uuid.UUID, need_id: uuid.UUID, mentor_ids: list[uuid.UUID],
) -> tuple[Round, Need]:
    found = await get(session, round_id)
    if found.kind is not NeedKind.lab:
        raise ProblemError("mentoring_round_takes_no_preferences")
    need = (await session.execute(select(Need).where(Need.id == need_id).with_for_update())).scalar_one_or_none()
    me = as_uuid(principal.id)
    mine = need is not None and (principal.has_role("staff") or (principal.has_role("student") and need.student_id == me))
    if not mine or need.kind is not NeedKind.lab or need.closed_at is not None or need.cohort_year != found.cohort_year:
        raise ProblemError("mentoring_need_not_found", need_id=need_id)
    now = clock.now()
    if not (found.opens_at <= now < found.closes_at):
        raise ProblemError("mentoring_window_closed", opens_at=found.opens_at.isoformat(), closes_at=found.closes_at.isoformat())
    if (repeated := first_repeated(mentor_ids)) is not None:
        raise ProblemError("mentoring_preference_repeated", mentor_id=repeated)
    mentors = {m.person_id: m for m in (await session.execute(select(Mentor).where(Mentor.person_id.in_(mentor_ids)))).scalars()}
    for mentor_id in mentor_ids:
        rule = lab_ineligible(mentors.get(mentor_id), need.discipline.value)
        if rule is not None:
            raise ProblemError("mentoring_mentor_not_eligible", mentor_id=mentor_id, rule=rule)
    if mentor_ids:
        # No affiliation rule here: a teacher of the student's school may mentor them unless they teach them now (declared).
        found_conflicts = await conflicts.between(session, mentor_ids, [need.student_id], affiliations={})
        for mentor_id in mentor_ids:
            kinds = found_conflicts.get((mentor_id, need.student_id))
            if kinds:
                raise ProblemError("mentoring_mentor_conflicted", mentor_id=mentor_id, kinds=", ".join(sorted({c.kind.value for c in kinds})))
    await session.execute(delete(Preference).where(Preference.round_id == round_id, Preference.need_id == need_id))
    if mentor_ids:
        await session.execute(insert(Preference).values([
            dict(id=uuid.uuid4(), round_id=round_id, need_id=need_id, student_id=need.student_id, mentor_id=m, rank=i,
                 entered_by=principal.id, entered_at=now)
            for i, m in enumerate(mentor_ids, start=1)
        ]))
    return found, need


async def preferences_of(session: AsyncSession, round_id: uuid.UUID, need_id: uuid.UUID) -> list[Preference]:
    stmt = select(Preference).where(Preference.round_id == round_id, Preference.need_id == need_id).order_by(Preference.rank)
    return list((await session.execute(stmt)).scalars())


def visible_preferences(principal: Principal) -> ColumnElement[bool]:
    """Staff every list; a student their own, a guardian their children's, a coordinator their
    school's (the directory's row scoping); a mentor only the places that name them."""
    clauses: list[Any] = [directory.visible(principal, Preference.student_id)]
    me = as_uuid(principal.id)
    if principal.kind == "user" and principal.has_role("mentor") and me is not None:
        clauses.append(Preference.mentor_id == me)
    return or_(*clauses)

