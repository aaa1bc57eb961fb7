"""A mentorship's life: who reads it, pausing and resuming, requests to end or re-match, meetings, goals.

Reading: staff and admin every mentorship; a mentor their own; a student their own, a guardian
their children's, a coordinator their school's students' (the directory's row scoping). Free
text about the student (meeting notes, a pause's or a request's reason, staff's note on it, a
goal update's note) is read by the two parties, the student's guardian and staff only
(`note_reader`): a coordinator or admin reads the rest of the row with those fields null.
Anyone else, and a party's action on a mentorship that is not theirs, gets the same 404 as an
unknown id.

A paused mentorship keeps the mentor's place; meetings may still be logged on it, goals wait
until it resumes. Ended is final. Every change is written to the chain in the request's
transaction; an approved request ends the mentorship through ending.py, which also announces it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.mentoring.db import chain, directory
from services.mentoring.mentorships.ending import record_ended
from services.mentoring.mentorships.models import (
    Goal, GoalStatus, GoalUpdate, Meeting, MentorshipPause, MentorshipRequest, RequestKind, RequestStatus, Side,
)
from services.mentoring.mentorships.schemas import GoalIn, MeetingIn, MeetingPatch, ProgressIn
from services.mentoring.models import Mentorship, MentorshipStatus, NeedKind
from shared import clock
from shared.chain import Change
from shared.ids import as_uuid
from shared.problems import ProblemError
from shared.tokens import Principal

REMATCH_RULE = "ended by an approved re-match request"
END_REASONS = {RequestKind.end: "ended by an approved end request", RequestKind.rematch: REMATCH_RULE}


# ---------------------------------------------------------------- who reads and who acts


def visible(principal: Principal) -> ColumnElement[bool]:
    """The directory's row scoping of the student, and a mentor's own mentorships."""
    clauses = [directory.visible(principal, Mentorship.student_id)]
    me = as_uuid(principal.id)
    if principal.kind == "user" and principal.has_role("mentor") and me is not None:
        clauses.append(Mentorship.mentor_id == me)
    return or_(*clauses)


def _is_mentor(principal: Principal, m: Mentorship) -> bool:
    return principal.has_role("mentor") and as_uuid(principal.id) == m.mentor_id


def _is_student(principal: Principal, m: Mentorship) -> bool:
    return principal.has_role("student") and as_uuid(principal.id) == m.student_id


def is_party(principal: Principal, m: Mentorship) -> bool:
    return _is_mentor(principal, m) or _is_student(principal, m)


async def side_of(session: AsyncSession, principal: Principal, m: Mentorship) -> Side | None:
    """Which side of the mentorship the caller speaks for, if any."""
    if _is_mentor(principal, m):
        return Side.mentor
    if _is_student(principal, m):
        return Side.student
    me = as_uuid(principal.id)
    if principal.has_role("guardian") and me is not None and await directory.is_guardian_of(session, me, m.student_id):
        return Side.guardian
    return None


async def note_reader(session: AsyncSession, principal: Principal) -> Callable[[Mentorship], bool]:
    """Whether the caller reads a mentorship's free text about the student: staff every one's; the
    mentor, the student and the student's guardian their own (what `side_of` finds, for many at once)."""
    if principal.has_role("staff"):
        return lambda m: True
    me = as_uuid(principal.id)
    children = set(await directory.children_of(session, me)) if me is not None and principal.has_role("guardian") else set()
    return lambda m: is_party(principal, m) or m.student_id in children


async def reads_notes(session: AsyncSession, principal: Principal, m: Mentorship) -> bool:
    return (await note_reader(session, principal))(m)


def _not_found(mentorship_id: uuid.UUID) -> ProblemError:
    return ProblemError("mentoring_mentorship_not_found", mentorship_id=mentorship_id)


async def readable(session: AsyncSession, principal: Principal, mentorship_id: uuid.UUID, *, lock: bool = False) -> Mentorship:
    """The mentorship, if the caller may read it (locked, for a change); else its 404."""
    stmt = select(Mentorship).where(Mentorship.id == mentorship_id, visible(principal))
    if lock:
        stmt = stmt.with_for_update(of=Mentorship)
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise _not_found(mentorship_id)
    return found


async def _of_party(session: AsyncSession, principal: Principal, mentorship_id: uuid.UUID) -> Mentorship:
    """The caller's own mentorship (as its mentor or its student), locked, not ended; another's is unknown to them."""
    m = await readable(session, principal, mentorship_id, lock=True)
    if not is_party(principal, m):
        raise _not_found(mentorship_id)
    refuse_ended(m)
    return m


def refuse_ended(m: Mentorship) -> None:
    if m.status is MentorshipStatus.ended:
        raise ProblemError("mentoring_mentorship_ended", mentorship_id=m.id, ended_at=m.ended_at.isoformat())


def refuse_inactive(m: Mentorship) -> None:
    refuse_ended(m)
    if m.status is not MentorshipStatus.active:
        raise ProblemError("mentoring_mentorship_not_active", mentorship_id=m.id, state=m.status.value)


def mentorships_query(principal: Principal, *, kind: NeedKind | None, status: MentorshipStatus | None,
                      student_id: uuid.UUID | None, mentor_id: uuid.UUID | None, pending_request: bool | None = None) -> Select:
    wheres = [visible(principal)]
    for column, value in ((Mentorship.kind, kind), (Mentorship.status, status), (Mentorship.student_id, student_id),
                          (Mentorship.mentor_id, mentor_id)):
        if value is not None:
            wheres.append(column == value)
    if pending_request is not None:
        waiting = exists().where(MentorshipRequest.mentorship_id == Mentorship.id, MentorshipRequest.status == RequestStatus.pending)
        wheres.append(waiting if pending_request else ~waiting)
    return select(Mentorship).where(and_(*wheres))


async def pending_requests(session: AsyncSession, mentorship_ids: list[uuid.UUID]) -> dict[uuid.UUID, MentorshipRequest]:
    if not mentorship_ids:
        return {}
    stmt = select(MentorshipRequest).where(MentorshipRequest.mentorship_id.in_(mentorship_ids),
                                           MentorshipRequest.status == RequestStatus.pending)
    return {r.mentorship_id: r for r in (await session.execute(stmt)).scalars()}


async def _recorded(session: AsyncSession, principal: Principal, row: Any, kind: str) -> Any:
    """A new row stored and its entry in the chain."""
    session.add(row)
    await session.flush()
    await chain.append(session, kind=kind, table=type(row).__table__, row_id=row.id, actor=principal.id)
    return row


# ---------------------------------------------------------------- pause and resume


async def _kept(session: AsyncSession, principal: Principal, mentorship_id: uuid.UUID) -> Mentorship:
    """The mentorship staff or its mentor pause and resume, locked, not ended."""
    m = await readable(session, principal, mentorship_id, lock=True)
    if not (principal.has_role("staff") or _is_mentor(principal, m)):
        raise _not_found(mentorship_id)
    refuse_ended(m)
    return m


async def pause(session: AsyncSession, principal: Principal, mentorship_id: uuid.UUID, reason: str) -> Mentorship:
    """An active mentorship paused, with the reason (the mentor's place is kept)."""
    m = await _kept(session, principal, mentorship_id)
    refuse_inactive(m)
    m.status = MentorshipStatus.paused
    row = MentorshipPause(mentorship_id=m.id, reason=reason, paused_by=principal.id, paused_at=clock.now())
    session.add(row)
    await session.flush()
    await chain.append_many(session, [Change("mentorship.paused", principal.id, Mentorship.__table__, m.id),
                                      Change("mentorship_pause.started", principal.id, MentorshipPause.__table__, row.id)])
    return m


async def resume(session: AsyncSession, principal: Principal, mentorship_id: uuid.UUID, reason: str) -> Mentorship:
    """A paused mentorship active again; its pause closed with the reason."""
    m = await _kept(session, principal, mentorship_id)
    if m.status is not MentorshipStatus.paused:
        raise ProblemError("mentoring_mentorship_not_paused", mentorship_id=m.id, state=m.status.value)
    m.status = MentorshipStatus.active
    changes = [Change("mentorship.resumed", principal.id, Mentorship.__table__, m.id)]
    row = (await open_pauses(session, [m.id], lock=True)).get(m.id)
    if row is not None:  # a mentorship paused before pauses were kept has none
        row.resumed_by, row.resumed_at, row.resume_reason = principal.id, clock.now(), reason
        changes.append(Change("mentorship_pause.ended", principal.id, MentorshipPause.__table__, row.id))
    await chain.append_many(session, changes)
    return m


async def open_pauses(session: AsyncSession, mentorship_ids: list[uuid.UUID], *, lock: bool = False) -> dict[uuid.UUID, MentorshipPause]:
    if not mentorship_ids:
        return {}
    stmt = select(MentorshipPause).where(MentorshipPause.mentorship_id.in_(mentorship_ids), MentorshipPause.resumed_at.is_(None))
    if lock:
        stmt = stmt.with_for_update()
    return {p.mentorship_id: p for p in (await session.execute(stmt)).scalars()}


# ---------------------------------------------------------------- requests to end or re-match


async def make_request(session: AsyncSession, principal: Principal, mentorship_id: uuid.UUID, kind: RequestKind,
                       reason: str) -> MentorshipRequest:
    """Either side asks; one pending request per mentorship (the row lock orders two at once)."""
    m = await readable(session, principal, mentorship_id, lock=True)
    side = await side_of(session, principal, m)
    if side is None:
        raise _not_found(mentorship_id)
    refuse_ended(m)
    pending = (await pending_requests(session, [m.id])).get(m.id)
    if pending is not None:
        raise ProblemError("mentoring_request_pending", mentorship_id=m.id, kind=pending.kind.value, mentorship_request_id=pending.id)
    row = MentorshipRequest(mentorship_id=m.id, kind=kind, status=RequestStatus.pending, side=side, reason=reason,
                            requested_by=principal.id, requested_at=clock.now())
    return await _recorded(session, principal, row, f"mentorship_request.{kind.value}")


async def _child(session: AsyncSession, model: Any, key: uuid.UUID, m: Mentorship, problem: ProblemError, *, lock: bool = False) -> Any:
    """A row of the mentorship's (a request, a meeting, a goal), or its 404."""
    stmt = select(model).where(model.id == key, model.mentorship_id == m.id)
    if lock:
        stmt = stmt.with_for_update()
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise problem
    return found


async def decide(session: AsyncSession, principal: Principal, mentorship_id: uuid.UUID, request_id: uuid.UUID, *,
                 approve: bool, note: str) -> MentorshipRequest:
    """Staff decide a pending request once; approving ends the mentorship, frees the mentor's place and
    leaves the student's need waiting for the next round (a re-match: without this mentor)."""
    m = await readable(session, principal, mentorship_id, lock=True)
    request = await _child(session, MentorshipRequest, request_id, m, ProblemError("mentoring_request_not_found", mentorship_request_id=request_id),
                           lock=True)
    if request.status is not RequestStatus.pending:
        raise ProblemError("mentoring_request_decided", mentorship_request_id=request.id, state=request.status.value,
                           decided_at=request.decided_at.isoformat())
    now = clock.now()
    request.status = RequestStatus.approved if approve else RequestStatus.declined
    request.decided_by, request.decided_at, request.note = principal.id, now, note
    await chain.append(session, kind=f"mentorship_request.{request.status.value}", table=MentorshipRequest.__table__,
                       row_id=request.id, actor=principal.id)
    if approve:
        m.status, m.ended_at, m.end_reason = MentorshipStatus.ended, now, END_REASONS[request.kind]
        await record_ended(session, [m], reason=f"{request.kind.value}_request", actor=principal.id, payload={"request_id": request.id})
    return request


async def rematched_pairs(session: AsyncSession, student_ids: list[uuid.UUID]) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """(mentor, student) of the mentorships an approved re-match request ended: never paired again, in any kind."""
    if not student_ids:
        return set()
    stmt = select(Mentorship.mentor_id, Mentorship.student_id).join(MentorshipRequest, MentorshipRequest.mentorship_id == Mentorship.id).where(
        MentorshipRequest.kind == RequestKind.rematch, MentorshipRequest.status == RequestStatus.approved,
        Mentorship.student_id.in_(student_ids))
    return {(m, s) for m, s in await session.execute(stmt)}


# ---------------------------------------------------------------- meetings


def _check_held_on(m: Mentorship, held_on: date) -> None:
    if held_on > clock.today():
        raise ProblemError("mentoring_meeting_date_invalid", held_on=held_on.isoformat(), reason="it is in the future")
    began = m.started_at.astimezone(clock.CHINA).date()
    if held_on < began:
        raise ProblemError("mentoring_meeting_date_invalid", held_on=held_on.isoformat(), reason=f"the mentorship began on {began.isoformat()}")


async def log_meeting(session: AsyncSession, principal: Principal, mentorship_id: uuid.UUID, data: MeetingIn) -> Meeting:
    """The mentor or the student of the mentorship logs a meeting of theirs (not on an ended one)."""
    m = await _of_party(session, principal, mentorship_id)
    _check_held_on(m, data.held_on)
    now = clock.now()
    row = Meeting(mentorship_id=m.id, held_on=data.held_on, minutes=data.minutes, topic=data.topic, notes=data.notes,
                  author_id=as_uuid(principal.id), created_at=now, updated_at=now)
    return await _recorded(session, principal, row, "meeting.logged")


async def correct_meeting(session: AsyncSession, principal: Principal, mentorship_id: uuid.UUID, meeting_id: uuid.UUID,
                          data: MeetingPatch) -> Meeting:
    """Whoever logged a meeting corrects it, while the mentorship has not ended; a correction that
    changes nothing is recorded nowhere."""
    m = await _of_party(session, principal, mentorship_id)
    row = await _child(session, Meeting, meeting_id, m, ProblemError("mentoring_meeting_not_found", meeting_id=meeting_id), lock=True)
    if row.author_id != as_uuid(principal.id):
        raise ProblemError("mentoring_meeting_not_author", meeting_id=meeting_id)
    if data.held_on is not None:
        _check_held_on(m, data.held_on)
    changed = {f: v for f, v in data.model_dump().items() if v is not None and v != getattr(row, f)}
    if not changed:
        return row
    for field, value in changed.items():
        setattr(row, field, value)
    row.updated_at = clock.now()
    await chain.append(session, kind="meeting.corrected", table=Meeting.__table__, row_id=row.id, actor=principal.id)
    return row


# ---------------------------------------------------------------- goals


async def set_goal(session: AsyncSession, principal: Principal, mentorship_id: uuid.UUID, data: GoalIn) -> Goal:
    """The mentor or the student sets a goal on their active mentorship."""
    m = await _of_party(session, principal, mentorship_id)
    refuse_inactive(m)
    if data.target_date is not None and data.target_date < clock.today():
        raise ProblemError("mentoring_goal_invalid", reason=f"the target date {data.target_date.isoformat()} is in the past")
    now = clock.now()
    row = Goal(mentorship_id=m.id, title=data.title, description=data.description, target_date=data.target_date,
               status=GoalStatus.open, progress=0, set_by=as_uuid(principal.id), created_at=now, updated_at=now)
    return await _recorded(session, principal, row, "goal.set")


async def update_goal(session: AsyncSession, principal: Principal, mentorship_id: uuid.UUID, goal_id: uuid.UUID,
                      data: ProgressIn) -> Goal:
    """A progress update of an open goal (the history kept); achieved (at 100 percent) or dropped closes it."""
    m = await _of_party(session, principal, mentorship_id)
    refuse_inactive(m)
    goal = await _child(session, Goal, goal_id, m, ProblemError("mentoring_goal_not_found", goal_id=goal_id), lock=True)
    if goal.status is not GoalStatus.open:
        raise ProblemError("mentoring_goal_closed", goal_id=goal.id, state=goal.status.value)
    if data.status is GoalStatus.achieved and data.percent != 100:
        raise ProblemError("mentoring_goal_invalid", reason=f"a goal achieved is at 100 percent, not {data.percent}")
    now = clock.now()
    update = GoalUpdate(goal_id=goal.id, percent=data.percent, status=data.status, note=data.note, made_by=as_uuid(principal.id), made_at=now)
    session.add(update)
    goal.progress, goal.status, goal.updated_at = data.percent, data.status, now
    await session.flush()
    await chain.append_many(session, [
        Change("goal_update.made", principal.id, GoalUpdate.__table__, update.id),
        Change(f"goal.{'progressed' if data.status is GoalStatus.open else data.status.value}", principal.id, Goal.__table__, goal.id),
    ])
    return goal


async def goal_of(session: AsyncSession, m: Mentorship, goal_id: uuid.UUID) -> Goal:
    return await _child(session, Goal, goal_id, m, ProblemError("mentoring_goal_not_found", goal_id=goal_id))
