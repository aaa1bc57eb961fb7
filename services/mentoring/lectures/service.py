"""Lectures: staff schedule, change and cancel them; students take their places; attendance after they start.

The places hold under concurrency: every registration, cancellation and capacity change
locks the lecture's row first, counts the places taken under that lock, and only then writes,
so two students can never take the last place. A registration repeated answers the one that
holds the place. Only a student of the programme registers: the directory's student, not
disabled, with an open need (admitted, not exited). On `tracking.student.exited` the student's
registrations for lectures starting after the exit are cancelled and their places freed (safe
to run twice, and late: a registration made after the exit, on re-entry, stays).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.mentoring.db import chain, directory
from services.mentoring.lectures.models import HOLDING, Lecture, LectureRegistration, LectureStatus, RegistrationStatus
from services.mentoring.lectures.schemas import LectureIn, LecturePatch
from services.mentoring.models import Mentor, Need
from shared import clock
from shared.chain import Change
from shared.etag import check_if_match
from shared.events.contracts.tracking import StudentExited
from shared.ids import as_uuid
from shared.problems import ProblemError
from shared.tokens import Principal

WITHDRAWN = "withdrawn"
LECTURE_CANCELLED = "the lecture was cancelled"
EXITED = "the student left the programme"


def _not_found(lecture_id: uuid.UUID) -> ProblemError:
    return ProblemError("mentoring_lecture_not_found", lecture_id=lecture_id)


async def get(session: AsyncSession, lecture_id: uuid.UUID, *, lock: bool = False) -> Lecture:
    """The lecture; with `lock`, its row locked until the transaction ends (its places are counted under it)."""
    stmt = select(Lecture).where(Lecture.id == lecture_id)
    # Locked, it is read afresh: what the places are counted against is what is committed now.
    found = (await session.execute(stmt.with_for_update().execution_options(populate_existing=True) if lock else stmt)).scalar_one_or_none()
    if found is None:
        raise _not_found(lecture_id)
    return found


async def taken(session: AsyncSession, lecture_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Places taken per lecture."""
    if not lecture_ids:
        return {}
    stmt = select(LectureRegistration.lecture_id, func.count()).where(
        LectureRegistration.lecture_id.in_(lecture_ids), LectureRegistration.status.in_(HOLDING)
    ).group_by(LectureRegistration.lecture_id)
    return dict((await session.execute(stmt)).all())


def _check(values: dict[str, Any]) -> None:
    if len(set(values["disciplines"])) != len(values["disciplines"]):
        raise ProblemError("mentoring_lecture_invalid", reason="a discipline is listed twice")
    if values["ends_at"] <= values["starts_at"]:
        raise ProblemError("mentoring_lecture_invalid", reason=f"it ends ({values['ends_at'].isoformat()}) before it starts "
                                                               f"({values['starts_at'].isoformat()})")


async def _check_speaker(session: AsyncSession, speaker_id: uuid.UUID | None) -> None:
    if speaker_id is not None and await session.get(Mentor, speaker_id) is None:
        raise ProblemError("mentoring_mentor_not_found", mentor_id=speaker_id)


async def create(session: AsyncSession, principal: Principal, data: LectureIn) -> Lecture:
    values = data.model_dump()
    values["disciplines"] = [d.value for d in data.disciplines]
    _check(values)
    await _check_speaker(session, data.speaker_id)
    now = clock.now()
    found = Lecture(**values, status=LectureStatus.scheduled, created_by=principal.id, created_at=now, updated_at=now)
    session.add(found)
    await session.flush()
    await chain.append(session, kind="lecture.created", table=Lecture.__table__, row_id=found.id, actor=principal.id)
    return found


def _refuse_cancelled(found: Lecture) -> None:
    if found.status is LectureStatus.cancelled:
        raise ProblemError("mentoring_lecture_cancelled", lecture_id=found.id, reason=found.cancel_reason)


def _refuse_started(found: Lecture) -> None:
    if clock.now() >= found.starts_at:
        raise ProblemError("mentoring_lecture_started", lecture_id=found.id, starts_at=found.starts_at.isoformat())


async def change(session: AsyncSession, principal: Principal, lecture_id: uuid.UUID, patch: LecturePatch, if_match: str | None) -> Lecture:
    found = await get(session, lecture_id, lock=True)
    check_if_match(if_match, found.version)
    _refuse_cancelled(found)
    changes = patch.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name != "speaker_id":
            raise ProblemError("mentoring_lecture_invalid", reason=f"{name} cannot be null; leave it out to keep it")
    if "disciplines" in changes:
        changes["disciplines"] = [d.value for d in patch.disciplines]
    values = {c: getattr(found, c) for c in ("disciplines", "starts_at", "ends_at")} | changes
    _check(values)
    if "speaker_id" in changes:
        await _check_speaker(session, patch.speaker_id)
    if "capacity" in changes:
        held = (await taken(session, [lecture_id])).get(lecture_id, 0)
        if patch.capacity < held:
            raise ProblemError("mentoring_lecture_capacity_below_taken", capacity=patch.capacity, taken=held)
    if not changes:
        return found
    for name, value in changes.items():
        setattr(found, name, value)
    found.updated_at = clock.now()
    await session.flush()
    await chain.append(session, kind="lecture.changed", table=Lecture.__table__, row_id=found.id, actor=principal.id,
                       payload={"fields": sorted(changes)})
    return found


async def _cancel_registrations(session: AsyncSession, actor: str, reason: str, *where: Any, payload: dict | None = None) -> list[uuid.UUID]:
    """Cancel the registrations `where` selects (those registered only), each recorded on the chain."""
    ended = list((await session.execute(
        update(LectureRegistration).where(LectureRegistration.status == RegistrationStatus.registered, *where)
        .values(status=RegistrationStatus.cancelled, cancelled_by=actor, cancelled_at=clock.now(), cancel_reason=reason)
        .returning(LectureRegistration.id)
    )).scalars())
    await chain.append_many(session, [Change("lecture_registration.cancelled", actor, LectureRegistration.__table__, i, payload)
                                      for i in ended])
    return ended


async def cancel(session: AsyncSession, principal: Principal, lecture_id: uuid.UUID, reason: str) -> Lecture:
    """Cancel a lecture before it starts; its registrations are cancelled with it."""
    found = await get(session, lecture_id, lock=True)
    _refuse_cancelled(found)
    _refuse_started(found)
    found.status, found.cancel_reason, found.updated_at = LectureStatus.cancelled, reason, clock.now()
    await session.flush()
    await chain.append(session, kind="lecture.cancelled", table=Lecture.__table__, row_id=found.id, actor=principal.id)
    await _cancel_registrations(session, principal.id, LECTURE_CANCELLED, LectureRegistration.lecture_id == lecture_id)
    return found


# ---------------------------------------------------------------- registrations


async def _may_register(session: AsyncSession, principal: Principal, student_id: uuid.UUID) -> bool:
    """Staff anyone; a student themself; a guardian their child."""
    me = as_uuid(principal.id)
    if principal.has_role("staff"):
        return True
    if principal.has_role("student") and me == student_id:
        return True
    return principal.has_role("guardian") and me is not None and await directory.is_guardian_of(session, me, student_id)


async def in_programme(session: AsyncSession, student_id: uuid.UUID) -> bool:
    """A student of the programme: the directory's student, not disabled, admitted and not exited (an open need)."""
    person = await directory.person(session, student_id)
    if person is None or "student" not in person.roles or person.disabled:
        return False
    return (await session.execute(select(Need.id).where(Need.student_id == student_id, Need.closed_at.is_(None)).limit(1))).first() is not None


async def register(session: AsyncSession, principal: Principal, lecture_id: uuid.UUID,
                   student_id: uuid.UUID | None) -> tuple[LectureRegistration, bool]:
    """The student's registration, and whether it is new (a repeated one answers the registration that holds the place)."""
    if student_id is None:
        if not principal.has_role("student"):
            raise ProblemError("mentoring_registration_student_required")
        student_id = as_uuid(principal.id)
    if student_id is None or not await _may_register(session, principal, student_id):
        raise ProblemError("student_not_found", student_id=student_id)
    found = await get(session, lecture_id, lock=True)
    held = (await session.execute(select(LectureRegistration).where(
        LectureRegistration.lecture_id == lecture_id, LectureRegistration.student_id == student_id,
        LectureRegistration.status.in_(HOLDING)))).scalar_one_or_none()
    if held is not None:
        return held, False
    _refuse_cancelled(found)
    _refuse_started(found)
    if not await in_programme(session, student_id):
        raise ProblemError("mentoring_not_in_programme", student_id=student_id)
    places = (await taken(session, [lecture_id])).get(lecture_id, 0)
    if places >= found.capacity:
        raise ProblemError("mentoring_lecture_full", lecture_id=lecture_id, capacity=found.capacity)
    row = LectureRegistration(lecture_id=lecture_id, student_id=student_id, status=RegistrationStatus.registered,
                              registered_by=principal.id, registered_at=clock.now())
    session.add(row)
    await session.flush()
    await chain.append(session, kind="lecture_registration.registered", table=LectureRegistration.__table__, row_id=row.id,
                       actor=principal.id)
    return row, True


def _registration_not_found(registration_id: uuid.UUID) -> ProblemError:
    return ProblemError("mentoring_registration_not_found", registration_id=registration_id)


async def _registration(session: AsyncSession, lecture_id: uuid.UUID, registration_id: uuid.UUID) -> LectureRegistration:
    row = (await session.execute(select(LectureRegistration).where(
        LectureRegistration.id == registration_id, LectureRegistration.lecture_id == lecture_id).with_for_update()
        .execution_options(populate_existing=True))).scalar_one_or_none()
    if row is None:
        raise _registration_not_found(registration_id)
    return row


async def withdraw(session: AsyncSession, principal: Principal, lecture_id: uuid.UUID, registration_id: uuid.UUID) -> LectureRegistration:
    """Cancel a registration before the lecture starts, freeing its place; one already cancelled is answered as it is."""
    found = await get(session, lecture_id, lock=True)
    row = await _registration(session, lecture_id, registration_id)
    if not await _may_register(session, principal, row.student_id):
        raise _registration_not_found(registration_id)
    if row.status is RegistrationStatus.cancelled:
        return row
    _refuse_started(found)
    await _cancel_registrations(session, principal.id, WITHDRAWN, LectureRegistration.id == row.id)
    return row


def _speaks(principal: Principal, found: Lecture) -> bool:
    me = as_uuid(principal.id)
    return principal.kind == "user" and principal.has_role("mentor") and me is not None and found.speaker_id == me


async def mark(session: AsyncSession, principal: Principal, lecture_id: uuid.UUID, registration_id: uuid.UUID,
               attendance: RegistrationStatus) -> LectureRegistration:
    """Attended or absent, once the lecture has started (a mark may be corrected); staff, or the speaker-mentor."""
    found = await get(session, lecture_id)
    if not (principal.has_role("staff") or _speaks(principal, found)):
        raise _not_found(lecture_id)
    row = await _registration(session, lecture_id, registration_id)
    _refuse_cancelled(found)
    if clock.now() < found.starts_at:
        raise ProblemError("mentoring_lecture_not_started", lecture_id=lecture_id, starts_at=found.starts_at.isoformat())
    if row.status is RegistrationStatus.cancelled:
        raise ProblemError("mentoring_registration_cancelled", registration_id=registration_id, reason=row.cancel_reason)
    if row.status is attendance:
        return row
    row.status, row.marked_by, row.marked_at = attendance, principal.id, clock.now()
    await session.flush()
    await chain.append(session, kind=f"lecture_registration.{attendance.value}", table=LectureRegistration.__table__, row_id=row.id,
                       actor=principal.id)
    return row


def visible_registrations(principal: Principal) -> ColumnElement[bool]:
    """Staff every registration; a student their own, a guardian their children's, a coordinator
    their school's (the directory's row scoping); a mentor those of the lectures they give."""
    clauses: list[Any] = [directory.visible(principal, LectureRegistration.student_id)]
    me = as_uuid(principal.id)
    if principal.kind == "user" and principal.has_role("mentor") and me is not None:
        clauses.append(LectureRegistration.lecture_id.in_(select(Lecture.id).where(Lecture.speaker_id == me)))
    return or_(*clauses)


async def on_exited(session: AsyncSession, event: Any) -> None:
    """The student's registrations for lectures starting after the exit are cancelled, their places free again."""
    exited: StudentExited = event.payload
    later = select(Lecture.id).where(Lecture.starts_at > exited.exited_at)
    await _cancel_registrations(
        session, "tracking", EXITED, LectureRegistration.student_id == exited.student_id,
        LectureRegistration.registered_at <= exited.exited_at, LectureRegistration.lecture_id.in_(later),
        payload={"event_id": event.event_id},
    )
