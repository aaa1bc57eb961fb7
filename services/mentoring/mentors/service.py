"""The mentors' registry and who needs a mentor.

Only a person the directory holds with the `mentor` role is registered: by staff (the
partner universities' professors), or by the mentor themself; a capacity is never set below
the mentees the mentor has now. Conflicts of interest (a relative, the student's own current
teacher) are declared by the mentor or staff through shared/conflicts.py; a guardian is found
from the directory. On `selection.candidate.admitted` a student needs a lab mentor in the
discipline and a life mentor; on `tracking.student.exited` their needs close and their
mentorships end (each announced as `mentoring.mentorship.ended`), which frees the mentors' places. Both handlers are safe to run twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.mentoring.db import chain, conflicts, directory
from services.mentoring.mentors.schemas import MentorIn
from services.mentoring.mentorships.ending import record_ended
from services.mentoring.models import Mentor, MentorKind, Mentorship, MentorshipStatus, Need, NeedKind
from shared import clock
from shared.conflicts import Conflict, ConflictIn
from shared.db import get_or_raise, upsert
from shared.events.contracts.selection import CandidateAdmitted
from shared.events.contracts.tracking import StudentExited
from shared.ids import as_uuid
from shared.problems import ProblemError
from shared.tokens import Principal

OPEN = (MentorshipStatus.active, MentorshipStatus.paused)


def own(principal: Principal, mentor_id: uuid.UUID) -> bool:
    return principal.has_role("mentor") and as_uuid(principal.id) == mentor_id


async def mentees(session: AsyncSession, mentor_ids: list[uuid.UUID]) -> dict[tuple[uuid.UUID, NeedKind], int]:
    """Open (active or paused) mentorships per mentor and kind."""
    if not mentor_ids:
        return {}
    stmt = select(Mentorship.mentor_id, Mentorship.kind, func.count()).where(
        Mentorship.mentor_id.in_(mentor_ids), Mentorship.status.in_(OPEN)
    ).group_by(Mentorship.mentor_id, Mentorship.kind)
    return {(m, k): n for m, k, n in await session.execute(stmt)}


def _check_entry(data: MentorIn) -> None:
    if len(set(data.disciplines)) != len(data.disciplines):
        raise ProblemError("mentoring_mentor_entry_invalid", reason="a discipline is listed twice")
    gives_lab, gives_life = data.kind in (MentorKind.lab, MentorKind.both), data.kind in (MentorKind.life, MentorKind.both)
    if gives_lab and not data.disciplines:
        raise ProblemError("mentoring_mentor_entry_invalid", reason="a lab mentor needs at least one discipline")
    if data.lab_capacity and not gives_lab:
        raise ProblemError("mentoring_mentor_entry_invalid", reason=f"a {data.kind.value} mentor has no lab capacity")
    if data.life_capacity and not gives_life:
        raise ProblemError("mentoring_mentor_entry_invalid", reason=f"a {data.kind.value} mentor has no life capacity")
    for block in data.availability:
        if block.ends_on < block.starts_on:
            raise ProblemError("mentoring_mentor_entry_invalid", reason=f"a block ends ({block.ends_on}) before it starts ({block.starts_on})")


async def register(session: AsyncSession, principal: Principal, person_id: uuid.UUID, data: MentorIn) -> Mentor:
    if not (principal.has_role("staff") or own(principal, person_id)):
        raise ProblemError("mentoring_mentor_not_found", mentor_id=person_id)
    person = await directory.person(session, person_id)
    if person is None or "mentor" not in person.roles or person.disabled:
        raise ProblemError("mentoring_not_a_mentor", person_id=person_id)
    _check_entry(data)
    # The mentor's row, locked, so a capacity and a new mentorship cannot cross.
    await session.execute(select(Mentor.person_id).where(Mentor.person_id == person_id).with_for_update())
    now_mentees = await mentees(session, [person_id])
    for kind, capacity in ((NeedKind.lab, data.lab_capacity), (NeedKind.life, data.life_capacity)):
        have = now_mentees.get((person_id, kind), 0)
        if capacity < have:
            raise ProblemError("mentoring_capacity_below_mentees", kind=kind.value, capacity=capacity, mentees=have)
    values = dict(
        person_id=person_id, kind=data.kind, type=data.type, affiliation=data.affiliation, school_id=person.school_id,
        partner_id=person.partner_id, disciplines=[d.value for d in data.disciplines], topics=list(data.topics),
        lab_capacity=data.lab_capacity, life_capacity=data.life_capacity,
        availability=[b.model_dump(mode="json") for b in data.availability], active=data.active,
        registered_by=principal.id, updated_at=clock.now(),
    )
    mentor = await upsert(session, Mentor, values, key=[Mentor.person_id], update=[k for k in values if k != "person_id"])
    await chain.append(session, kind="mentor.registered", table=Mentor.__table__, row_id=person_id, actor=principal.id)
    return mentor


async def get(session: AsyncSession, person_id: uuid.UUID) -> Mentor:
    mentor = await get_or_raise(session, Mentor, person_id, ProblemError("mentoring_mentor_not_found", mentor_id=person_id))
    return mentor


async def declare(session: AsyncSession, principal: Principal, mentor_id: uuid.UUID, data: ConflictIn) -> Conflict:
    if not (principal.has_role("staff") or own(principal, mentor_id)):
        raise ProblemError("mentoring_mentor_not_found", mentor_id=mentor_id)
    await get(session, mentor_id)
    return await conflicts.declare_recorded(
        session, chain, Mentor.__table__, assessor_id=mentor_id, data=data, by_self=own(principal, mentor_id), actor=principal.id,
    )


# ---------------------------------------------------------------- who needs a mentor


def visible_needs(principal: Principal) -> ColumnElement[bool]:
    """Staff and admin every need; a coordinator their school's, a guardian their children's, a
    student their own (the directory's row scoping); a mentor their mentees'."""
    clauses = [directory.visible(principal, Need.student_id)]
    me = as_uuid(principal.id)
    if principal.kind == "user" and principal.has_role("mentor") and me is not None:
        clauses.append(exists().where(Mentorship.student_id == Need.student_id, Mentorship.mentor_id == me, Mentorship.status.in_(OPEN)))
    return or_(*clauses)


async def on_admitted(session: AsyncSession, event: Any) -> None:
    """The student needs a lab mentor in the discipline and a life mentor (unless they have an open one)."""
    admitted: CandidateAdmitted = event.payload
    now = clock.now()
    common = dict(student_id=admitted.student_id, cohort_year=admitted.cohort_year, school_id=admitted.school_id,
                  grade=admitted.grade, candidate_id=admitted.candidate_id, selection_rank=admitted.rank, opened_at=now)
    rows = [dict(id=uuid.uuid4(), kind=NeedKind.lab, discipline=admitted.discipline, **common),
            dict(id=uuid.uuid4(), kind=NeedKind.life, discipline=None, **common)]
    for row in rows:
        # Nothing new when this admission already gave its needs (a redelivery, even after an exit),
        # or an open need of the same student and kind (and discipline) stands (a second admission).
        await session.execute(insert(Need).values(**row).on_conflict_do_nothing())


async def on_exited(session: AsyncSession, event: Any) -> None:
    """The student's needs close and their mentorships end; their mentors' places are free again."""
    exited: StudentExited = event.payload
    now = clock.now()
    # Only what began before the exit: an exit delivered late never ends a re-entered student's new mentorships.
    await session.execute(
        update(Need).where(Need.student_id == exited.student_id, Need.closed_at.is_(None), Need.opened_at <= exited.exited_at)
        .values(closed_at=now, closed_reason="exited")
    )
    ended = list(await session.execute(
        update(Mentorship).where(Mentorship.student_id == exited.student_id, Mentorship.status.in_(OPEN),
                                 Mentorship.started_at <= exited.exited_at)
        .values(status=MentorshipStatus.ended, ended_at=now, end_reason=f"the student left the programme ({exited.reason})")
        .returning(Mentorship.id, Mentorship.student_id, Mentorship.mentor_id, Mentorship.kind, Mentorship.discipline, Mentorship.ended_at)
    ))
    # Only mentorships still open end, so a redelivered exit records and announces nothing.
    await record_ended(session, ended, reason="exited", actor="tracking", payload={"event_id": event.event_id})


def _mentor_of_need() -> Any:
    return select(Mentorship.mentor_id).where(Mentorship.need_id == Need.id, Mentorship.status.in_(OPEN)).limit(1).scalar_subquery()


def needs_query(principal: Principal, *, kind: NeedKind | None, discipline: str | None, open_only: bool, student_id: uuid.UUID | None) -> Any:
    wheres = [visible_needs(principal)]
    if kind is not None:
        wheres.append(Need.kind == kind)
    if discipline is not None:
        wheres.append(Need.discipline == discipline)
    if open_only:
        wheres.append(Need.closed_at.is_(None))
    if student_id is not None:
        wheres.append(Need.student_id == student_id)
    return select(Need, _mentor_of_need().label("mentor_id")).where(and_(*wheres))
