"""The registration API: windows and holds (staff), registering under capacity with a waitlist, drops, seat offers, rosters."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.courses.db import directory
from services.courses.models import Section
from services.courses.registration import service
from services.courses.registration.models import ACTIVE, Hold, Registration, RegistrationStatus, RegistrationWindow
from services.courses.registration.schemas import (
    CapacityIn, HoldIn, HoldOut, OfferOut, RegistrationIn, RegistrationOut, SectionSeatsOut, WindowChange, WindowIn, WindowOut,
)
from shared.auth import USER_ROLES, require
from shared.db import DbSession, get_or_raise
from shared.idempotency import IdempotencyKey
from shared.pagination import Page, PageParams, filtered, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter()
windows = APIRouter(prefix="/registration-windows", tags=["registration"])
holds = APIRouter(prefix="/registration-holds", tags=["registration"])
registrations = APIRouter(prefix="/registrations", tags=["registration"])
offers = APIRouter(prefix="/offers", tags=["registration"])
sections = APIRouter(prefix="/sections", tags=["registration"])

Staff = Annotated[Principal, Depends(require("staff"))]
Browser = Annotated[Principal, Depends(require(*USER_ROLES))]
# A student for themself, staff for any student; a guardian does not register (they see their child's).
Registrar = Annotated[Principal, Depends(require("staff", "student"))]
Reader = Annotated[Principal, Depends(require("admin", "staff", "coordinator", "student", "guardian"))]
# Staff and admin, a coordinator (their school's students), the section's teacher (any person of the directory).
RosterReader = Annotated[Principal, Depends(require("admin", "staff", "coordinator", "mentor", "expert", "partner"))]

WINDOW_PROBLEMS = ("courses_window_invalid",)
REGISTRATION_CHECKS = (
    "courses_not_in_programme", "courses_student_on_hold", "courses_window_none", "courses_window_no_group", "courses_window_not_open",
    "courses_window_closed", "courses_grade_not_eligible", "courses_prerequisite_missing", "courses_time_conflict", "courses_load_limit",
)
OFFER_PROBLEMS = ("courses_offer_not_found", "courses_offer_closed", "courses_offer_expired")


def _window_out(row: RegistrationWindow) -> WindowOut:
    return WindowOut.model_validate({c: getattr(row, c) for c in WindowOut.model_fields})


def _hold_out(row: Hold) -> HoldOut:
    return HoldOut.model_validate({c: getattr(row, c) for c in HoldOut.model_fields})


async def registrations_out(session: AsyncSession, found: Sequence[Registration]) -> list[RegistrationOut]:
    rows = list(found)
    names = await directory.display_names(session, [r.student_id for r in rows])
    places = await service.positions(session, rows)
    held = await service.open_offers(session, rows)
    return [RegistrationOut.model_validate({
        **{c: getattr(r, c) for c in RegistrationOut.model_fields if c not in ("display_name", "position", "offer")},
        "display_name": names.get(r.student_id), "position": places.get(r.id),
        "offer": OfferOut.model_validate({c: getattr(held[r.id], c) for c in OfferOut.model_fields}) if r.id in held else None,
    }) for r in rows]


async def _one(session: AsyncSession, row: Registration) -> RegistrationOut:
    return (await registrations_out(session, [row]))[0]


# ---------------------------------------------------------------- windows


@windows.post("", status_code=201, response_model=WindowOut,
              responses=problem_responses("courses_term_not_found", "courses_window_exists", *WINDOW_PROBLEMS),
              summary="Open a term's registration window with its priority groups (staff)")
async def create_window(principal: Staff, body: WindowIn, session: DbSession, response: Response) -> WindowOut:
    """One window per term. Each group opens at its own time (e.g. research students first, then
    by grade, descending); a student registers from the earliest group they fall in until
    `closes_at`, and drops a confirmed seat until `drop_deadline`."""
    row = await service.create_window(session, principal, body)
    response.headers["Location"] = f"/registration-windows/{row.id}"
    return _window_out(row)


@windows.get("", response_model=Page[WindowOut], summary="The registration windows, latest closing first (every signed-in person)")
async def list_windows(_: Browser, session: DbSession, page: PageParams, term_id: uuid.UUID | None = None) -> Page[WindowOut]:
    stmt = select(RegistrationWindow)
    if term_id is not None:
        stmt = stmt.where(RegistrationWindow.term_id == term_id)
    found = await paginate(session, stmt, order_by=(RegistrationWindow.closes_at.desc(), RegistrationWindow.id.desc()), params=page)
    return Page(items=[_window_out(r) for r in found.items], next_cursor=found.next_cursor)


@windows.get("/{window_id}", response_model=WindowOut, responses=problem_responses("courses_window_not_found"),
             summary="A registration window (every signed-in person)")
async def get_window(_: Browser, window_id: uuid.UUID, session: DbSession) -> WindowOut:
    return _window_out(await get_or_raise(session, RegistrationWindow, window_id, ProblemError("courses_window_not_found", window_id=window_id)))


@windows.put("/{window_id}", response_model=WindowOut, responses=problem_responses("courses_window_not_found", *WINDOW_PROBLEMS),
             summary="Replace a registration window's groups, closing time, drop deadline and claim hours (staff)")
async def change_window(principal: Staff, window_id: uuid.UUID, body: WindowChange, session: DbSession) -> WindowOut:
    return _window_out(await service.change_window(session, principal, window_id, body))


# ---------------------------------------------------------------- holds


@holds.post("", status_code=201, response_model=HoldOut, responses=problem_responses("student_not_found"),
            summary="Put a hold on a student's registrations (staff)")
async def place_hold(principal: Staff, body: HoldIn, session: DbSession, response: Response) -> HoldOut:
    """While the hold stands the student registers for nothing (`courses_student_on_hold`); what they hold stays."""
    row = await service.place_hold(session, principal, body.student_id, body.reason)
    response.headers["Location"] = f"/registration-holds/{row.id}"
    return _hold_out(row)


@holds.get("", response_model=Page[HoldOut],
           summary="Registration holds you may see, newest first (staff all; a student their own, a guardian their child's, a coordinator their school's)")
async def list_holds(principal: Reader, session: DbSession, page: PageParams, student_id: uuid.UUID | None = None,
                     active: bool | None = None) -> Page[HoldOut]:
    stmt = select(Hold).where(directory.visible(principal, Hold.student_id))
    if student_id is not None:
        stmt = stmt.where(Hold.student_id == student_id)
    if active is not None:
        stmt = stmt.where(Hold.released_at.is_(None) if active else Hold.released_at.is_not(None))
    found = await paginate(session, stmt, order_by=(Hold.placed_at.desc(), Hold.id.desc()), params=page)
    return Page(items=[_hold_out(r) for r in found.items], next_cursor=found.next_cursor)


@holds.post("/{hold_id}/release", response_model=HoldOut, responses=problem_responses("courses_hold_not_found"),
            summary="Release a hold (staff); one released already is answered as it is")
async def release_hold(principal: Staff, hold_id: uuid.UUID, session: DbSession) -> HoldOut:
    return _hold_out(await service.release_hold(session, principal, hold_id))


# ---------------------------------------------------------------- registrations


@registrations.post(
    "", status_code=201, response_model=RegistrationOut,
    responses={200: {"description": "Registered already: the active registration.", "model": RegistrationOut},
               **problem_responses("courses_section_not_found", "student_not_found", "courses_registration_student_required",
                                   *REGISTRATION_CHECKS)},
    summary="Register for a section: a seat when one is free, else a waitlist place (a student for themself, staff for any student)",
)
async def register(principal: Registrar, body: RegistrationIn, session: DbSession, idempotency: IdempotencyKey,
                   response: Response) -> RegistrationOut:
    """Each check refused names its rule and stores nothing. `status` is `confirmed` or
    `waitlisted` (with its `position`); registering again answers the active registration (200).
    Send an `Idempotency-Key`: a retry registers once."""
    row, new = await service.register(session, principal, body.section_id, body.student_id)
    if not new:
        response.status_code = 200
    response.headers["Location"] = f"/registrations/{row.id}"
    return await idempotency.save(await _one(session, row))


@registrations.get(
    "", response_model=Page[RegistrationOut],
    summary="Registrations you may see, newest first, with waitlist positions and open offers (a student their own, "
            "a guardian their child's, a coordinator their school's, staff all)",
)
async def list_registrations(principal: Reader, session: DbSession, page: PageParams, student_id: uuid.UUID | None = None,
                             section_id: uuid.UUID | None = None, term_id: uuid.UUID | None = None,
                             status: RegistrationStatus | None = None) -> Page[RegistrationOut]:
    stmt = filtered(select(Registration).where(service.visible_registrations(principal)), {
        Registration.student_id: student_id, Registration.section_id: section_id, Registration.term_id: term_id, Registration.status: status})
    found = await paginate(session, stmt, order_by=(Registration.requested_at.desc(), Registration.id.desc()), params=page)
    return Page(items=await registrations_out(session, found.items), next_cursor=found.next_cursor)


@registrations.get("/{registration_id}", response_model=RegistrationOut, responses=problem_responses("courses_registration_not_found"),
                   summary="A registration you may see, with its waitlist position or open offer (as the list)")
async def get_registration(principal: Reader, registration_id: uuid.UUID, session: DbSession) -> RegistrationOut:
    row = (await session.execute(select(Registration).where(Registration.id == registration_id,
                                                            service.visible_registrations(principal)))).scalar_one_or_none()
    if row is None:
        raise ProblemError("courses_registration_not_found", registration_id=registration_id)
    return await _one(session, row)


@registrations.post(
    "/{registration_id}/drop", response_model=RegistrationOut,
    responses=problem_responses("courses_registration_not_found", "courses_drop_deadline_passed"),
    summary="Drop a seat before the drop deadline (offered on to the waitlist), leave a waitlist, or decline an offer "
            "(the student, staff)",
)
async def drop(principal: Registrar, registration_id: uuid.UUID, session: DbSession) -> RegistrationOut:
    """An ended registration is answered as it is."""
    return await _one(session, await service.drop(session, principal, registration_id))


# ---------------------------------------------------------------- offers


@offers.post("/{offer_id}/claim", response_model=RegistrationOut,
             responses=problem_responses(*OFFER_PROBLEMS, "courses_registration_not_found", "courses_time_conflict", "courses_load_limit"),
             summary="Claim an offered seat before its deadline: the registration is confirmed (the student, staff)")
async def claim(principal: Registrar, offer_id: uuid.UUID, session: DbSession) -> RegistrationOut:
    return await _one(session, await service.claim(session, principal, offer_id))


@offers.post("/{offer_id}/decline", response_model=RegistrationOut, responses=problem_responses(*OFFER_PROBLEMS, "courses_registration_not_found"),
             summary="Decline an offered seat: it goes to the next on the waitlist (the student, staff)")
async def decline(principal: Registrar, offer_id: uuid.UUID, session: DbSession) -> RegistrationOut:
    return await _one(session, await service.decline(session, principal, offer_id))


# ---------------------------------------------------------------- sections


@sections.get(
    "/{section_id}/roster", response_model=Page[RegistrationOut], responses=problem_responses("courses_section_not_found"),
    summary="A section's confirmed, offered and waitlisted students, in the order of their requests (staff and admin all, "
            "a coordinator their school's, the section's teacher all)",
)
async def roster(principal: RosterReader, section_id: uuid.UUID, session: DbSession, page: PageParams,
                 status: RegistrationStatus | None = None) -> Page[RegistrationOut]:
    section = await get_or_raise(session, Section, section_id, ProblemError("courses_section_not_found", section_id=section_id))
    stmt = select(Registration).where(Registration.section_id == section_id, service.visible_roster(principal, section),
                                      Registration.status == status if status is not None else Registration.status.in_(ACTIVE))
    found = await paginate(session, stmt, order_by=(Registration.requested_at, Registration.id), params=page)
    return Page(items=await registrations_out(session, found.items), next_cursor=found.next_cursor)


@sections.put(
    "/{section_id}/capacity", response_model=SectionSeatsOut,
    responses=problem_responses("courses_section_not_found", "courses_capacity_invalid", "courses_capacity_below_taken"),
    summary="Change a section's capacity (staff): never negative, never below the seats taken; a raise offers the new seats",
)
async def set_capacity(principal: Staff, section_id: uuid.UUID, body: CapacityIn, session: DbSession) -> SectionSeatsOut:
    found = await service.set_capacity(session, principal, section_id, body.capacity)
    return SectionSeatsOut(id=found.id, capacity=found.capacity, taken=found.taken)


for part in (windows, holds, registrations, offers, sections):
    router.include_router(part)
