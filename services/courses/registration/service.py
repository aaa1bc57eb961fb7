"""Registration: windows with priority groups, holds, registering under capacity, waitlists and seat offers.

A seat is taken only by one conditional UPDATE of the section's counter (`take_seat`: `taken =
taken + 1 WHERE taken < capacity`) in the registering transaction, so no number of requests
and replicas can oversell (and the table's CHECK stands behind it). When it takes nothing the
student is waitlisted, in the order of the requests' times (tie by id). Every path that frees a
seat (a drop, an offer declined or expired, an exit) gives it back and then `fill`s the
section: under the section's row lock, each free seat is offered to the first eligible
waitlisted student (still in the programme, no hold, no time conflict, within the term's load)
until the offer's claim deadline, a timer. A capacity raise fills the same way.

The checks of a registration, in this order, each refusal naming its rule and storing nothing:
the student is in the programme (`courses_not_in_programme`), has no hold
(`courses_student_on_hold`), the term's window is open for their priority group
(`courses_window_none`, `_no_group`, `_not_open`, `_closed`), their grade is one the course
takes (`courses_grade_not_eligible`), they completed each prerequisite
(`courses_prerequisite_missing`), no meeting overlaps one of a section they hold
(`courses_time_conflict`), and they hold fewer sections than the term's load limit
(`courses_load_limit`). A student registers themself; staff any student; a guardian does not
register (choosing courses is the student's; a guardian sees their child's registrations).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.courses.db import chain, directory
from services.courses.models import Completion, Course, Section, SectionMeeting, Term
from services.courses.registration.models import (
    ACTIVE, SEATED, Hold, Offer, OfferStatus, ProgrammeStudent, Registration, RegistrationStatus, RegistrationWindow,
)
from services.courses.registration.schemas import GroupIn, WindowChange, WindowIn
from shared import clock
from shared.db import get_or_raise
from shared.events import publish
from shared.events.contracts.courses import (
    SOURCE, OfferDeadline, OfferExpired, OfferMade, RegistrationConfirmed, RegistrationDropped,
)
from shared.events.contracts.selection import CandidateAdmitted
from shared.events.contracts.tracking import StudentExited
from shared.ids import as_uuid
from shared.problems import ProblemError
from shared.tokens import Principal

DROPPED = "dropped"
LEFT = "left the waitlist"
DECLINED = "the offer was declined"
EXPIRED = "the offer was not claimed in time"
EXITED = "the student left the programme"


# ---------------------------------------------------------------- programme students (the consumer)


async def on_admitted(session: AsyncSession, event: Any) -> None:
    """The student joins the programme: a research student when admitted at the high-school stage.
    Safe twice; an admission older than the student's exit (a late redelivery) leaves them out."""
    admitted: CandidateAdmitted = event.payload
    values = dict(discipline=admitted.discipline, cohort_year=admitted.cohort_year, school_id=admitted.school_id,
                  research=admitted.stage == "high", candidate_id=admitted.candidate_id, admitted_at=admitted.decided_at, exited_at=None)
    stmt = insert(ProgrammeStudent).values(student_id=admitted.student_id, **values)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[ProgrammeStudent.student_id], set_=values,
        where=and_(ProgrammeStudent.exited_at.is_not(None), ProgrammeStudent.exited_at < admitted.decided_at),
    ))


async def on_exited(session: AsyncSession, event: Any) -> None:
    """The student leaves the programme (unless re-admitted after this exit); their registrations
    for sections first meeting after the exit are dropped, their waitlist places and offers
    removed, and the seats offered on. Safe twice: a second delivery finds nothing to end."""
    exited: StudentExited = event.payload
    await session.execute(update(ProgrammeStudent).where(
        ProgrammeStudent.student_id == exited.student_id, ProgrammeStudent.exited_at.is_(None),
        ProgrammeStudent.admitted_at <= exited.exited_at).values(exited_at=exited.exited_at))
    first_meeting = select(func.min(SectionMeeting.starts_at)).where(SectionMeeting.section_id == Registration.section_id).scalar_subquery()
    found = (await session.execute(select(Registration).where(
        Registration.student_id == exited.student_id, Registration.status.in_(ACTIVE), Registration.requested_at <= exited.exited_at,
        or_(Registration.status == RegistrationStatus.waitlisted, first_meeting > exited.exited_at),
    ).order_by(Registration.section_id))).scalars().all()
    payload = {"event_id": str(event.event_id)}
    for section_id in sorted({r.section_id for r in found}):
        section = await lock_section(session, section_id)
        for row in [r for r in found if r.section_id == section_id]:
            await session.refresh(row, with_for_update=True)
            if row.status not in ACTIVE:
                continue
            if row.status is RegistrationStatus.waitlisted:
                await _end(session, row, RegistrationStatus.left, "tracking", EXITED, payload)
                continue
            if row.status is RegistrationStatus.offered:
                await _close_offer(session, row.id, OfferStatus.withdrawn, "tracking")
                await _end(session, row, RegistrationStatus.left, "tracking", EXITED, payload)
            else:
                await _end(session, row, RegistrationStatus.dropped, "tracking", EXITED, payload)
                await _publish_dropped(session, row, section, "exited")
            await give_back_seat(session, section)
        await fill(session, section)


# ---------------------------------------------------------------- windows


def _window_not_found(window_id: uuid.UUID) -> ProblemError:
    return ProblemError("courses_window_not_found", window_id=window_id)


def _check_window(groups: list[GroupIn], closes_at: datetime, drop_deadline: datetime) -> None:
    labels = [g.label for g in groups]
    if len(set(labels)) != len(labels):
        raise ProblemError("courses_window_invalid", reason="a group's label is used twice")
    for g in groups:
        if g.max_grade < g.min_grade:
            raise ProblemError("courses_window_invalid", reason=f"group {g.label} takes grades {g.min_grade} to {g.max_grade}")
        if g.opens_at >= closes_at:
            raise ProblemError("courses_window_invalid", reason=f"group {g.label} opens ({g.opens_at.isoformat()}) after the window "
                                                                f"closes ({closes_at.isoformat()})")
    if drop_deadline < min(g.opens_at for g in groups):
        raise ProblemError("courses_window_invalid", reason="the drop deadline is before the window opens")


def _groups_json(groups: list[GroupIn]) -> list[dict[str, Any]]:
    return [g.model_dump(mode="json") for g in groups]


async def create_window(session: AsyncSession, principal: Principal, data: WindowIn) -> RegistrationWindow:
    await get_or_raise(session, Term, data.term_id, ProblemError("courses_term_not_found", term_id=data.term_id))
    _check_window(data.groups, data.closes_at, data.drop_deadline)
    existing = (await session.execute(select(RegistrationWindow.id).where(RegistrationWindow.term_id == data.term_id))).scalar()
    if existing is not None:
        raise ProblemError("courses_window_exists", term_id=data.term_id, window_id=existing)
    row = RegistrationWindow(term_id=data.term_id, groups=_groups_json(data.groups), closes_at=data.closes_at,
                             drop_deadline=data.drop_deadline, claim_hours=data.claim_hours, created_by=principal.id, updated_at=clock.now())
    session.add(row)
    await session.flush()
    await chain.append(session, kind="registration_window.created", table=RegistrationWindow.__table__, row_id=row.id, actor=principal.id)
    return row


async def change_window(session: AsyncSession, principal: Principal, window_id: uuid.UUID, data: WindowChange) -> RegistrationWindow:
    row = await get_or_raise(session, RegistrationWindow, window_id, _window_not_found(window_id), with_for_update=True)
    _check_window(data.groups, data.closes_at, data.drop_deadline)
    row.groups, row.closes_at, row.drop_deadline, row.claim_hours = _groups_json(data.groups), data.closes_at, data.drop_deadline, data.claim_hours
    row.updated_at = clock.now()
    await session.flush()
    await chain.append(session, kind="registration_window.changed", table=RegistrationWindow.__table__, row_id=row.id, actor=principal.id)
    return row


async def _window_of(session: AsyncSession, term_id: uuid.UUID) -> RegistrationWindow | None:
    return (await session.execute(select(RegistrationWindow).where(RegistrationWindow.term_id == term_id))).scalar_one_or_none()


def _opening(window: RegistrationWindow, student: ProgrammeStudent, grade: int | None) -> tuple[str, datetime] | None:
    """The student's priority group and when it opens: the earliest of the groups they fall in."""
    fits = [(datetime.fromisoformat(g["opens_at"]), g["label"]) for g in window.groups
            if (student.research or not g["research_only"]) and grade is not None and g["min_grade"] <= grade <= g["max_grade"]]
    if not fits:
        return None
    opens_at, label = min(fits)
    return label, opens_at


# ---------------------------------------------------------------- holds


async def place_hold(session: AsyncSession, principal: Principal, student_id: uuid.UUID, reason: str) -> Hold:
    person = await directory.person(session, student_id)
    if person is None or "student" not in person.roles:
        raise ProblemError("student_not_found", student_id=student_id)
    row = Hold(student_id=student_id, reason=reason, placed_by=principal.id, placed_at=clock.now())
    session.add(row)
    await session.flush()
    await chain.append(session, kind="registration_hold.placed", table=Hold.__table__, row_id=row.id, actor=principal.id)
    return row


async def release_hold(session: AsyncSession, principal: Principal, hold_id: uuid.UUID) -> Hold:
    """Released once; a released hold is answered as it is."""
    row = await get_or_raise(session, Hold, hold_id, ProblemError("courses_hold_not_found", hold_id=hold_id), with_for_update=True)
    if row.released_at is None:
        row.released_by, row.released_at = principal.id, clock.now()
        await session.flush()
        await chain.append(session, kind="registration_hold.released", table=Hold.__table__, row_id=row.id, actor=principal.id)
    return row


# ---------------------------------------------------------------- the checks


async def _check_student(session: AsyncSession, student_id: uuid.UUID) -> ProgrammeStudent:
    """In the programme (admitted, not exited; the directory's student, not disabled), and no hold."""
    student = await session.get(ProgrammeStudent, student_id)
    person = await directory.person(session, student_id)
    if student is None or student.exited_at is not None or person is None or "student" not in person.roles or person.disabled:
        raise ProblemError("courses_not_in_programme", student_id=student_id)
    hold = (await session.execute(select(Hold.reason).where(Hold.student_id == student_id, Hold.released_at.is_(None))
                                  .order_by(Hold.placed_at).limit(1))).scalar()
    if hold is not None:
        raise ProblemError("courses_student_on_hold", reason=hold)
    return student


async def _check_fit(session: AsyncSession, student_id: uuid.UUID, section: Section, term: Term, besides: uuid.UUID | None = None) -> None:
    """No time conflict with the sections the student holds, and within the term's load (`besides`: a registration not counted)."""
    held = [Registration.student_id == student_id, Registration.status.in_(SEATED), Registration.section_id != section.id]
    if besides is not None:
        held.append(Registration.id != besides)
    theirs, this = aliased(SectionMeeting), aliased(SectionMeeting)
    conflict = (await session.execute(
        select(Registration.section_id).join(theirs, theirs.section_id == Registration.section_id)
        .join(this, this.section_id == section.id)
        .where(*held, theirs.starts_at < this.ends_at, this.starts_at < theirs.ends_at).limit(1)
    )).scalar()
    if conflict is not None:
        raise ProblemError("courses_time_conflict", conflicting_section_id=conflict)
    count = (await session.execute(select(func.count()).select_from(Registration).where(*held, Registration.term_id == term.id))).scalar_one()
    if count >= term.load_limit:
        raise ProblemError("courses_load_limit", held=count, load_limit=term.load_limit)


async def _check_course(session: AsyncSession, student_id: uuid.UUID, course: Course) -> None:
    grade = await directory.grade_of(session, student_id)
    if grade is None or not course.min_grade <= grade <= course.max_grade:
        raise ProblemError("courses_grade_not_eligible", grade=grade, min_grade=course.min_grade, max_grade=course.max_grade)
    if course.prerequisites:
        done = set((await session.execute(select(Completion.course_id).where(
            Completion.student_id == student_id, Completion.course_id.in_(course.prerequisites)))).scalars())
        missing = [str(c) for c in course.prerequisites if c not in done]
        if missing:
            raise ProblemError("courses_prerequisite_missing", course_ids=", ".join(missing))


async def _check_window_open(session: AsyncSession, student: ProgrammeStudent, term: Term) -> RegistrationWindow:
    window = await _window_of(session, term.id)
    if window is None:
        raise ProblemError("courses_window_none", term_id=term.id)
    opening = _opening(window, student, await directory.grade_of(session, student.student_id))
    if opening is None:
        raise ProblemError("courses_window_no_group")
    now = clock.now()
    if now < opening[1]:
        raise ProblemError("courses_window_not_open", group=opening[0], opens_at=opening[1].isoformat())
    if now >= window.closes_at:
        raise ProblemError("courses_window_closed", closes_at=window.closes_at.isoformat())
    return window


# ---------------------------------------------------------------- seats


def _section_not_found(section_id: uuid.UUID) -> ProblemError:
    return ProblemError("courses_section_not_found", section_id=section_id)


async def lock_section(session: AsyncSession, section_id: uuid.UUID) -> Section:
    """The section, its row locked until the transaction ends, read afresh."""
    found = (await session.execute(select(Section).where(Section.id == section_id).with_for_update()
                                   .execution_options(populate_existing=True))).scalar_one_or_none()
    if found is None:
        raise _section_not_found(section_id)
    return found


async def take_seat(session: AsyncSession, section_id: uuid.UUID) -> bool:
    """The one conditional UPDATE that takes a seat: true when one was free (and is now taken)."""
    taken = (await session.execute(
        update(Section).where(Section.id == section_id, Section.taken < Section.capacity).values(taken=Section.taken + 1)
        .returning(Section.taken).execution_options(synchronize_session=False)
    )).scalar()
    return taken is not None


async def give_back_seat(session: AsyncSession, section: Section) -> None:
    await session.execute(update(Section).where(Section.id == section.id).values(taken=Section.taken - 1)
                          .execution_options(synchronize_session=False))
    await session.refresh(section)


async def fill(session: AsyncSession, section: Section) -> list[Offer]:
    """Offer each free seat of the (locked) section to the first eligible waitlisted student, in
    the waitlist's order; the ineligible stay waitlisted. The offers made."""
    made: list[Offer] = []
    term = await session.get(Term, section.term_id)
    window = await _window_of(session, section.term_id)
    hours = window.claim_hours if window is not None else 24
    skipped: list[uuid.UUID] = []
    while True:
        candidate = (await session.execute(select(Registration).where(
            Registration.section_id == section.id, Registration.status == RegistrationStatus.waitlisted,
            Registration.id.not_in(skipped) if skipped else true(),
        ).order_by(Registration.requested_at, Registration.id).limit(1).with_for_update())).scalar_one_or_none()
        if candidate is None:
            break
        try:
            await _check_student(session, candidate.student_id)
            await _check_fit(session, candidate.student_id, section, term)
        except ProblemError:
            skipped.append(candidate.id)
            continue
        if not await take_seat(session, section.id):
            break
        now = clock.now()
        offer = Offer(registration_id=candidate.id, section_id=section.id, student_id=candidate.student_id, status=OfferStatus.open,
                      made_at=now, claim_by=now + timedelta(hours=hours))
        session.add(offer)
        candidate.status = RegistrationStatus.offered
        await session.flush()
        await chain.append(session, kind="registration_offer.made", table=Offer.__table__, row_id=offer.id, actor="courses")
        await chain.append(session, kind="registration.offered", table=Registration.__table__, row_id=candidate.id, actor="courses")
        common = _seat_fields(candidate, section)
        await publish(session, type="courses.offer.made", subject=candidate.student_id, source=SOURCE,
                      payload=OfferMade(**common, offer_id=offer.id, claim_by=offer.claim_by))
        await publish(session, type="courses.offer.deadline", subject=str(offer.id), source=SOURCE, available_at=offer.claim_by,
                      payload=OfferDeadline(offer_id=offer.id, claim_by=offer.claim_by))
        made.append(offer)
    await session.refresh(section)
    return made


def _seat_fields(row: Registration, section: Section) -> dict[str, Any]:
    return dict(registration_id=row.id, student_id=row.student_id, section_id=section.id, course_id=section.course_id, term_id=section.term_id)


async def _publish_confirmed(session: AsyncSession, row: Registration, section: Section) -> None:
    await publish(session, type="courses.registration.confirmed", subject=row.student_id, source=SOURCE,
                  payload=RegistrationConfirmed(**_seat_fields(row, section), confirmed_at=row.confirmed_at))


async def _publish_dropped(session: AsyncSession, row: Registration, section: Section, reason: str) -> None:
    await publish(session, type="courses.registration.dropped", subject=row.student_id, source=SOURCE,
                  payload=RegistrationDropped(**_seat_fields(row, section), reason=reason, dropped_at=row.ended_at))


async def _end(session: AsyncSession, row: Registration, status: RegistrationStatus, actor: str, reason: str,
               payload: dict[str, Any] | None = None) -> None:
    row.status, row.ended_by, row.ended_at, row.end_reason = status, actor, clock.now(), reason
    await session.flush()
    await chain.append(session, kind=f"registration.{status.value}", table=Registration.__table__, row_id=row.id, actor=actor, payload=payload)


async def _close_offer(session: AsyncSession, registration_id: uuid.UUID, status: OfferStatus, actor: str) -> Offer | None:
    offer = (await session.execute(select(Offer).where(Offer.registration_id == registration_id, Offer.status == OfferStatus.open)
                                   .with_for_update())).scalar_one_or_none()
    if offer is not None:
        offer.status, offer.closed_at = status, clock.now()
        await session.flush()
        await chain.append(session, kind=f"registration_offer.{status.value}", table=Offer.__table__, row_id=offer.id, actor=actor)
    return offer


# ---------------------------------------------------------------- registering


async def register(session: AsyncSession, principal: Principal, section_id: uuid.UUID,
                   student_id: uuid.UUID | None) -> tuple[Registration, bool]:
    """The student's registration (confirmed, or waitlisted when the section is full), and whether
    it is new: registering again answers the active registration."""
    me = as_uuid(principal.id)
    if student_id is None:
        if not principal.has_role("student"):
            raise ProblemError("courses_registration_student_required")
        student_id = me
    if student_id is None or not (principal.has_role("staff") or (principal.has_role("student") and student_id == me)):
        raise ProblemError("student_not_found", student_id=student_id)
    section = await session.get(Section, section_id)
    if section is None:
        raise _section_not_found(section_id)
    existing = await _active(session, section_id, student_id)
    if existing is not None:
        return existing, False
    student = await _check_student(session, student_id)
    term, course = await session.get(Term, section.term_id), await session.get(Course, section.course_id)
    await _check_window_open(session, student, term)
    await _check_course(session, student_id, course)
    await _check_fit(session, student_id, section, term)
    now = clock.now()
    row_id = uuid.uuid4()
    inserted = (await session.execute(insert(Registration).values(
        id=row_id, section_id=section_id, term_id=section.term_id, student_id=student_id, status=RegistrationStatus.waitlisted,
        requested_by=principal.id, requested_at=now,
    ).on_conflict_do_nothing().returning(Registration.id))).scalar()
    if inserted is None:  # the same student's other request, at the same moment, registered first
        return await _active(session, section_id, student_id), False
    row = await session.get(Registration, row_id)
    if await take_seat(session, section_id):
        row.status, row.confirmed_at = RegistrationStatus.confirmed, now
        await session.flush()
        await chain.append(session, kind="registration.confirmed", table=Registration.__table__, row_id=row.id, actor=principal.id)
        await _publish_confirmed(session, row, section)
    else:
        await chain.append(session, kind="registration.waitlisted", table=Registration.__table__, row_id=row.id, actor=principal.id)
    return row, True


async def _active(session: AsyncSession, section_id: uuid.UUID, student_id: uuid.UUID) -> Registration | None:
    return (await session.execute(select(Registration).where(
        Registration.section_id == section_id, Registration.student_id == student_id, Registration.status.in_(ACTIVE),
    ).execution_options(populate_existing=True))).scalar_one_or_none()


def _registration_not_found(registration_id: uuid.UUID) -> ProblemError:
    return ProblemError("courses_registration_not_found", registration_id=registration_id)


def _may_act(principal: Principal, student_id: uuid.UUID) -> bool:
    """Staff for anyone; a student for themself."""
    return principal.has_role("staff") or (principal.has_role("student") and as_uuid(principal.id) == student_id)


async def _locked_registration(session: AsyncSession, principal: Principal, registration_id: uuid.UUID) -> tuple[Registration, Section]:
    """The registration and its section, the section's row locked first (every seat path locks in that order)."""
    found = await session.get(Registration, registration_id)
    if found is None or not _may_act(principal, found.student_id):
        raise _registration_not_found(registration_id)
    section = await lock_section(session, found.section_id)
    await session.refresh(found, with_for_update=True)
    return found, section


async def drop(session: AsyncSession, principal: Principal, registration_id: uuid.UUID) -> Registration:
    """A confirmed seat dropped before the drop deadline (the seat offered on); a waitlist place
    left, an offer declined, any time. An ended registration is answered as it is."""
    row, section = await _locked_registration(session, principal, registration_id)
    if row.status not in ACTIVE:
        return row
    if row.status is RegistrationStatus.waitlisted:
        await _end(session, row, RegistrationStatus.left, principal.id, LEFT)
        return row
    if row.status is RegistrationStatus.offered:
        return await _decline(session, principal, row, section)
    window = await _window_of(session, section.term_id)
    if window is not None and clock.now() >= window.drop_deadline:
        raise ProblemError("courses_drop_deadline_passed", drop_deadline=window.drop_deadline.isoformat())
    await _end(session, row, RegistrationStatus.dropped, principal.id, DROPPED)
    await _publish_dropped(session, row, section, "dropped")
    await give_back_seat(session, section)
    await fill(session, section)
    return row


async def _decline(session: AsyncSession, principal: Principal, row: Registration, section: Section) -> Registration:
    await _close_offer(session, row.id, OfferStatus.declined, principal.id)
    await _end(session, row, RegistrationStatus.declined, principal.id, DECLINED)
    await give_back_seat(session, section)
    await fill(session, section)
    return row


def _offer_not_found(offer_id: uuid.UUID) -> ProblemError:
    return ProblemError("courses_offer_not_found", offer_id=offer_id)


async def _locked_offer(session: AsyncSession, principal: Principal, offer_id: uuid.UUID) -> tuple[Offer, Registration, Section]:
    offer = await session.get(Offer, offer_id)
    if offer is None or not _may_act(principal, offer.student_id):
        raise _offer_not_found(offer_id)
    row, section = await _locked_registration(session, principal, offer.registration_id)
    await session.refresh(offer, with_for_update=True)
    if offer.status is not OfferStatus.open:
        raise ProblemError("courses_offer_closed", offer_id=offer_id, state=offer.status.value)
    if clock.now() >= offer.claim_by:
        raise ProblemError("courses_offer_expired", offer_id=offer_id, claim_by=offer.claim_by.isoformat())
    return offer, row, section


async def claim(session: AsyncSession, principal: Principal, offer_id: uuid.UUID) -> Registration:
    """Before its deadline, an open offer becomes the student's confirmed seat (still no time
    conflict, within the load: a seat taken since the offer counts)."""
    offer, row, section = await _locked_offer(session, principal, offer_id)
    await _check_fit(session, row.student_id, section, await session.get(Term, section.term_id), besides=row.id)
    offer.status, offer.closed_at = OfferStatus.claimed, clock.now()
    row.status, row.confirmed_at = RegistrationStatus.confirmed, offer.closed_at
    await session.flush()
    await chain.append(session, kind="registration_offer.claimed", table=Offer.__table__, row_id=offer.id, actor=principal.id)
    await chain.append(session, kind="registration.confirmed", table=Registration.__table__, row_id=row.id, actor=principal.id)
    await _publish_confirmed(session, row, section)
    return row


async def decline(session: AsyncSession, principal: Principal, offer_id: uuid.UUID) -> Registration:
    _, row, section = await _locked_offer(session, principal, offer_id)
    return await _decline(session, principal, row, section)


async def on_offer_deadline(session: AsyncSession, event: Any) -> None:
    """The offer's timer: an offer still open at its deadline expires and the seat goes to the
    next. A claimed, declined or withdrawn offer's timer does nothing; so does a second delivery."""
    timer: OfferDeadline = event.payload
    offer = await session.get(Offer, timer.offer_id)
    if offer is None or offer.status is not OfferStatus.open:
        return
    section = await lock_section(session, offer.section_id)
    await session.refresh(offer, with_for_update=True)
    if offer.status is not OfferStatus.open or clock.now() < offer.claim_by:
        return
    row = await session.get(Registration, offer.registration_id, with_for_update=True)
    offer.status, offer.closed_at = OfferStatus.expired, clock.now()
    await session.flush()
    await chain.append(session, kind="registration_offer.expired", table=Offer.__table__, row_id=offer.id, actor="courses")
    await _end(session, row, RegistrationStatus.expired, "courses", EXPIRED)
    await publish(session, type="courses.offer.expired", subject=row.student_id, source=SOURCE,
                  payload=OfferExpired(**_seat_fields(row, section), offer_id=offer.id, claim_by=offer.claim_by))
    await give_back_seat(session, section)
    await fill(session, section)


async def set_capacity(session: AsyncSession, principal: Principal, section_id: uuid.UUID, capacity: int) -> Section:
    """Never negative nor above 10000, never below the seats taken; a raise offers the new seats to the waitlist."""
    if not 0 <= capacity <= 10000:
        raise ProblemError("courses_capacity_invalid", capacity=capacity)
    section = await lock_section(session, section_id)
    if capacity < section.taken:
        raise ProblemError("courses_capacity_below_taken", capacity=capacity, taken=section.taken)
    if capacity == section.capacity:
        return section
    section.capacity, section.updated_at = capacity, clock.now()
    await session.flush()
    await chain.append(session, kind="section.capacity", table=Section.__table__, row_id=section.id, actor=principal.id,
                       payload={"capacity": capacity})
    await fill(session, section)
    return section


# ---------------------------------------------------------------- reads


def visible_registrations(principal: Principal) -> ColumnElement[bool]:
    """The directory's row scoping: staff and admin all, a student their own, a guardian their children's, a coordinator their school's."""
    return directory.visible(principal, Registration.student_id)


def visible_roster(principal: Principal, section: Section, student: Any = Registration.student_id) -> ColumnElement[bool]:
    """A section's roster (or its attendance and results, by their `student` column): the
    directory's scoping, and the section's teacher (a person of the directory) all of it."""
    me = as_uuid(principal.id)
    if principal.kind == "user" and me is not None and section.teacher_id == me:
        return true()
    return directory.visible(principal, student) if principal.has_role("admin", "staff", "coordinator") else false()


async def positions(session: AsyncSession, rows: list[Registration]) -> dict[uuid.UUID, int]:
    """The waitlisted registrations' places in their sections' waitlists (1 first)."""
    waiting = [r for r in rows if r.status is RegistrationStatus.waitlisted]
    if not waiting:
        return {}
    ranked = select(Registration.id, func.row_number().over(
        partition_by=Registration.section_id, order_by=(Registration.requested_at, Registration.id)).label("position"),
    ).where(Registration.status == RegistrationStatus.waitlisted, Registration.section_id.in_({r.section_id for r in waiting})).subquery()
    found = await session.execute(select(ranked.c.id, ranked.c.position).where(ranked.c.id.in_([r.id for r in waiting])))
    return {i: p for i, p in found.all()}


async def open_offers(session: AsyncSession, rows: list[Registration]) -> dict[uuid.UUID, Offer]:
    offered = [r.id for r in rows if r.status is RegistrationStatus.offered]
    if not offered:
        return {}
    found = await session.execute(select(Offer).where(Offer.registration_id.in_(offered), Offer.status == OfferStatus.open))
    return {o.registration_id: o for o in found.scalars()}
