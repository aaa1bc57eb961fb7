"""Exemptions and grade skips: who applies, who decides at which level, and what a decision grants.

A student applies for themself, a guardian for their child (anyone else's child is unknown to
them, as an unknown id is). Applications of one student are serialised on a per-student lock,
so the one-pending rule is checked before the write and two at once cannot both pass it.
Decided or withdrawn, an application never changes: a second decision is refused, a second
withdrawal answers the withdrawn one as it is. Every change is on the chain, and the grade
skip's final approval publishes `courses.grade_skip.approved`, in the request's transaction.

Reading follows the directory's row scoping (staff and admin all, a coordinator their school's
students', a student their own, a guardian their children's). Deciding a grade skip loads the
application whatever the caller's scope, so that a coordinator of another school is told the
rule (`courses_grade_skip_wrong_school`) rather than a bare 404; the problem names no student.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.courses.applications.models import (
    LEVELS, Applicant, ApplicationStatus, Exemption, ExemptionKind, GradeSkip, GradeSkipDecision, Level, Outcome,
)
from services.courses.applications.schemas import EvidenceIn, ExemptionIn, GradeSkipIn
from services.courses.db import chain, directory
from services.courses.models import Completion, CompletionBasis, Course, Section
from shared import clock
from shared.chain import Change
from shared.db import get_or_raise, xact_lock
from shared.events import publish
from shared.events.contracts.courses import SOURCE, GradeSkipApproved
from shared.ids import as_uuid
from shared.problems import ProblemError
from shared.tokens import Principal

Application = Exemption | GradeSkip

# The problem each kind answers for an id the caller may not see, and its name in other problems.
_NOT_FOUND = {Exemption: "courses_exemption_not_found", GradeSkip: "courses_grade_skip_not_found"}
_KIND = {Exemption: "exemption", GradeSkip: "grade_skip"}


def _not_found(model: type[Application], application_id: uuid.UUID) -> ProblemError:
    return ProblemError(_NOT_FOUND[model], application_id=application_id)


def visible(principal: Principal, model: type[Application]) -> ColumnElement[bool]:
    """The directory's row scoping of the application's student."""
    return directory.visible(principal, model.student_id)


async def readable(session: AsyncSession, principal: Principal, model: type[Application], application_id: uuid.UUID, *,
                   lock: bool = False) -> Any:
    """The application, if the caller may read it (locked and read afresh, for a change); else its 404."""
    stmt = select(model).where(model.id == application_id, visible(principal, model))
    if lock:
        stmt = stmt.with_for_update(of=model).execution_options(populate_existing=True)
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise _not_found(model, application_id)
    return found


def _refuse_closed(found: Application) -> None:
    if found.status is not ApplicationStatus.pending:
        raise ProblemError("courses_application_decided", application_id=found.id, state=found.status.value)


# ---------------------------------------------------------------- applying


async def _applicant(session: AsyncSession, principal: Principal, student_id: uuid.UUID | None) -> tuple[uuid.UUID, Applicant]:
    """The student applied for and who applies: the student themself, or their guardian. A
    student of the directory, not disabled; anyone else is `student_not_found`."""
    me = as_uuid(principal.id)
    if student_id is None:
        if not principal.has_role("student"):
            raise ProblemError("courses_application_student_required")
        student_id = me
    side: Applicant | None = None
    if principal.has_role("student") and me is not None and me == student_id:
        side = Applicant.student
    elif principal.has_role("guardian") and me is not None and student_id is not None and await directory.is_guardian_of(session, me, student_id):
        side = Applicant.guardian
    person = await directory.person(session, student_id) if side is not None and student_id is not None else None
    if person is None or "student" not in person.roles or person.disabled:
        raise ProblemError("student_not_found", student_id=student_id)
    return student_id, side


async def _pending(session: AsyncSession, model: type[Application], *where: Any) -> Application | None:
    stmt = select(model).where(model.status == ApplicationStatus.pending, *where).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


def _refuse_open(model: type[Application], open_one: Application | None) -> None:
    if open_one is not None:
        raise ProblemError("courses_application_open", kind=_KIND[model], application_id=open_one.id)


def _evidence(data: EvidenceIn) -> dict[str, Any]:
    return {"evidence_kind": data.evidence_kind, "evidence": data.evidence, "links": list(data.links)}


async def _recorded(session: AsyncSession, principal: Principal, row: Application, kind: str) -> Any:
    session.add(row)
    await session.flush()
    await chain.append(session, kind=kind, table=type(row).__table__, row_id=row.id, actor=principal.id)
    return row


async def _section_of(session: AsyncSession, data: ExemptionIn) -> uuid.UUID | None:
    """The exam's section, which must be one of the course's; a course exemption names none."""
    if data.kind is ExemptionKind.course:
        if data.section_id is not None:
            raise ProblemError("courses_exemption_section_invalid", reason="a course exemption names no section (leave section_id out)")
        return None
    if data.section_id is None:
        raise ProblemError("courses_exemption_section_invalid", reason="an exam exemption names the section whose final exam is waived")
    section = await session.get(Section, data.section_id)
    if section is None or section.course_id != data.course_id:
        raise ProblemError("courses_section_not_found", section_id=data.section_id)
    return section.id


async def apply_exemption(session: AsyncSession, principal: Principal, data: ExemptionIn) -> Exemption:
    """A pending course or exam exemption; refused if one is pending for the student and course,
    if the course is completed already, or (exam) the section's exam is waived already."""
    student_id, side = await _applicant(session, principal, data.student_id)
    await get_or_raise(session, Course, data.course_id, ProblemError("courses_course_not_found", course_id=data.course_id))
    section_id = await _section_of(session, data)
    await xact_lock(session, "courses.applications", student_id)
    # Completed, the course has neither a course to exempt nor an exam to waive.
    done = (await session.execute(select(Completion.id).where(Completion.student_id == student_id,
                                                              Completion.course_id == data.course_id))).first()
    if done is not None:
        raise ProblemError("courses_exemption_granted", reason="the student has completed the course")
    if data.kind is ExemptionKind.exam:
        waived = await session.execute(select(Exemption.id).where(
            Exemption.student_id == student_id, Exemption.section_id == section_id, Exemption.kind == ExemptionKind.exam,
            Exemption.status == ApplicationStatus.approved))
        if waived.first() is not None:
            raise ProblemError("courses_exemption_granted", reason="the final exam of this section is waived for the student already")
    _refuse_open(Exemption, await _pending(session, Exemption, Exemption.student_id == student_id, Exemption.course_id == data.course_id))
    row = Exemption(student_id=student_id, course_id=data.course_id, kind=data.kind, section_id=section_id, **_evidence(data),
                    status=ApplicationStatus.pending, applicant=side, applied_by=principal.id, applied_at=clock.now())
    return await _recorded(session, principal, row, f"exemption.applied_{data.kind.value}")


async def apply_grade_skip(session: AsyncSession, principal: Principal, data: GradeSkipIn) -> GradeSkip:
    """A pending grade skip from the student's grade now (the directory's) to a higher one,
    waiting for their school's coordinator; one pending per student."""
    student_id, side = await _applicant(session, principal, data.student_id)
    await xact_lock(session, "courses.applications", student_id)
    grade = await directory.grade_of(session, student_id)
    if grade is None:
        raise ProblemError("courses_grade_unknown", student_id=student_id)
    if data.to_grade <= grade:
        raise ProblemError("courses_grade_skip_not_above", current_grade=grade, to_grade=data.to_grade)
    _refuse_open(GradeSkip, await _pending(session, GradeSkip, GradeSkip.student_id == student_id))
    row = GradeSkip(student_id=student_id, from_grade=grade, to_grade=data.to_grade, **_evidence(data), status=ApplicationStatus.pending,
                    waiting_for=Level.coordinator, applicant=side, applied_by=principal.id, applied_at=clock.now())
    return await _recorded(session, principal, row, "grade_skip.applied")


# ---------------------------------------------------------------- withdrawing


async def withdraw(session: AsyncSession, principal: Principal, model: type[Application], application_id: uuid.UUID) -> Any:
    """The applicant's side (the student, or their guardian) withdraws it while pending; one
    withdrawn already is answered as it is. Anyone else gets the 404 of an unknown id."""
    found = await readable(session, principal, model, application_id, lock=True)
    me = as_uuid(principal.id)
    mine = (principal.has_role("student") and me == found.student_id) or (
        principal.has_role("guardian") and me is not None and await directory.is_guardian_of(session, me, found.student_id))
    if not mine:
        raise _not_found(model, application_id)
    if found.status is ApplicationStatus.withdrawn:
        return found
    _refuse_closed(found)
    found.status, found.withdrawn_at = ApplicationStatus.withdrawn, clock.now()
    if isinstance(found, GradeSkip):
        found.waiting_for = None
    await session.flush()
    await chain.append(session, kind=f"{_KIND[model]}.withdrawn", table=model.__table__, row_id=found.id, actor=principal.id)
    return found


# ---------------------------------------------------------------- deciding


async def decide_exemption(session: AsyncSession, principal: Principal, application_id: uuid.UUID, outcome: Outcome,
                           reason: str) -> Exemption:
    """Staff decide a pending exemption once. A course exemption approved writes the student's
    completion (basis "exemption"; one completed meanwhile by a result stays as it is); an exam
    exemption approved is itself the waiver registration and results read."""
    found = await readable(session, principal, Exemption, application_id, lock=True)
    _refuse_closed(found)
    now = clock.now()
    found.status = ApplicationStatus.approved if outcome is Outcome.approved else ApplicationStatus.refused
    found.decided_by, found.decided_at, found.decision_reason = principal.id, now, reason
    await session.flush()
    changes = [Change(f"exemption.{found.status.value}", principal.id, Exemption.__table__, found.id)]
    if outcome is Outcome.approved and found.kind is ExemptionKind.course:
        granted = (await session.execute(
            insert(Completion).values(id=uuid.uuid4(), student_id=found.student_id, course_id=found.course_id,
                                      basis=CompletionBasis.exemption, completed_at=now)
            .on_conflict_do_nothing(index_elements=[Completion.student_id, Completion.course_id]).returning(Completion.id)
        )).scalar_one_or_none()
        if granted is not None:
            changes.append(Change("completion.exempted", principal.id, Completion.__table__, granted, {"exemption_id": found.id}))
    await chain.append_many(session, changes)
    return found


async def _coordinates(session: AsyncSession, principal: Principal, student_id: uuid.UUID) -> bool:
    """The caller is a coordinator of the student's school, as the directory knows both now."""
    me = as_uuid(principal.id)
    if me is None:
        return False
    mine, theirs = await directory.school_of(session, me), await directory.school_of(session, student_id)
    return mine is not None and mine == theirs


async def decide_grade_skip(session: AsyncSession, principal: Principal, application_id: uuid.UUID, level: Level, outcome: Outcome,
                            reason: str) -> GradeSkip:
    """One level's decision, in order: the student's school's coordinator, then staff, then
    admin. A refusal ends the application; admin's approval grants it and announces it."""
    found = await get_or_raise(session, GradeSkip, application_id, _not_found(GradeSkip, application_id),
                               with_for_update=True, populate_existing=True)
    if not principal.has_role(level.value):
        raise ProblemError("courses_grade_skip_level_not_yours", level=level.value)
    # Before its state: a coordinator of another school learns nothing of the application.
    if level is Level.coordinator and not await _coordinates(session, principal, found.student_id):
        raise ProblemError("courses_grade_skip_wrong_school")
    _refuse_closed(found)
    if level is not found.waiting_for:
        raise ProblemError("courses_grade_skip_out_of_order", waiting_for=found.waiting_for.value, level=level.value)
    now = clock.now()
    decision = GradeSkipDecision(grade_skip_id=found.id, level=level, outcome=outcome, reason=reason, decided_by=principal.id, decided_at=now)
    session.add(decision)
    if outcome is Outcome.refused:
        found.status, found.waiting_for, found.decided_at = ApplicationStatus.refused, None, now
        kind = "grade_skip.refused"
    elif level is LEVELS[-1]:
        found.status, found.waiting_for, found.decided_at = ApplicationStatus.approved, None, now
        kind = "grade_skip.approved"
    else:
        found.waiting_for = LEVELS[LEVELS.index(level) + 1]
        kind = "grade_skip.advanced"
    await session.flush()
    await chain.append_many(session, [
        Change(f"grade_skip_decision.{outcome.value}", principal.id, GradeSkipDecision.__table__, decision.id),
        Change(kind, principal.id, GradeSkip.__table__, found.id, {"level": level.value}),
    ])
    if found.status is ApplicationStatus.approved:
        await publish(session, type="courses.grade_skip.approved", subject=found.student_id, source=SOURCE, payload=GradeSkipApproved(
            application_id=found.id, student_id=found.student_id, from_grade=found.from_grade, to_grade=found.to_grade, approved_at=now))
    return found


# ---------------------------------------------------------------- reading


async def waived_exams(session: AsyncSession, section_id: uuid.UUID) -> set[uuid.UUID]:
    """The students whose final exam of the section is waived (an approved exam exemption): what results read."""
    stmt = select(Exemption.student_id).where(Exemption.section_id == section_id, Exemption.kind == ExemptionKind.exam,
                                              Exemption.status == ApplicationStatus.approved)
    return set((await session.execute(stmt)).scalars())


async def decisions_of(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[GradeSkipDecision]]:
    found: dict[uuid.UUID, list[GradeSkipDecision]] = {i: [] for i in ids}
    if ids:
        stmt = select(GradeSkipDecision).where(GradeSkipDecision.grade_skip_id.in_(ids)).order_by(GradeSkipDecision.decided_at)
        for d in (await session.execute(stmt)).scalars():
            found[d.grade_skip_id].append(d)
    for rows in found.values():
        rows.sort(key=lambda d: LEVELS.index(d.level))
    return found


def waiting_for_me(principal: Principal) -> ColumnElement[bool]:
    """The pending grade skips waiting for a level the caller decides: a coordinator's those of
    their school's students, staff's and admin's every one at their level."""
    clauses: list[ColumnElement[bool]] = []
    if principal.kind == "user" and principal.has_role("coordinator"):
        # The directory's coordinator scoping alone, whatever other roles the caller holds.
        coordinator = Principal(id=principal.id, kind="user", roles=frozenset({"coordinator"}))
        clauses.append(and_(GradeSkip.waiting_for == Level.coordinator, directory.visible(coordinator, GradeSkip.student_id)))
    for level in (Level.staff, Level.admin):
        if principal.kind == "user" and principal.has_role(level.value):
            clauses.append(GradeSkip.waiting_for == level)
    return and_(GradeSkip.status == ApplicationStatus.pending, or_(*clauses) if clauses else false())
