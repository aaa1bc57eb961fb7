"""The lectures API: staff schedule lectures by scientists and engineers; students take their places; attendance."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.mentoring.db import directory
from services.mentoring.lectures import service
from services.mentoring.lectures.models import Lecture, LectureRegistration, RegistrationStatus
from services.mentoring.lectures.schemas import (
    AttendanceIn, LectureCancelIn, LectureIn, LectureOut, LecturePatch, RegistrationIn, RegistrationOut,
)
from shared import clock
from shared.auth import USER_ROLES, require
from shared.db import DbSession
from shared.disciplines import Discipline
from shared.etag import PRECONDITION_PROBLEMS, IfMatch, set_etag
from shared.idempotency import IdempotencyKey
from shared.pagination import Page, PageParams, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter()
lectures = APIRouter(prefix="/lectures", tags=["lectures"])
registrations = APIRouter(prefix="/lecture-registrations", tags=["lectures"])

Staff = Annotated[Principal, Depends(require("staff"))]
# Every signed-in person browses the lectures.
Browser = Annotated[Principal, Depends(require(*USER_ROLES))]
Registrar = Annotated[Principal, Depends(require("staff", "student", "guardian"))]
Marker = Annotated[Principal, Depends(require("staff", "mentor"))]
RegistrationReader = Annotated[Principal, Depends(require("admin", "staff", "mentor", "coordinator", "student", "guardian"))]

LECTURE_PROBLEMS = ("mentoring_lecture_invalid", "mentoring_mentor_not_found")


async def lectures_out(session: AsyncSession, found: Sequence[Lecture]) -> list[LectureOut]:
    counts = await service.taken(session, [x.id for x in found])
    return [LectureOut.model_validate({
        **{c: getattr(x, c) for c in LectureOut.model_fields if c not in ("taken", "places_left")},
        "taken": counts.get(x.id, 0), "places_left": max(0, x.capacity - counts.get(x.id, 0)),
    }) for x in found]


async def _lecture_out(session: AsyncSession, found: Lecture, response: Response) -> LectureOut:
    set_etag(response, found.version)
    return (await lectures_out(session, [found]))[0]


async def registrations_out(session: AsyncSession, found: Sequence[LectureRegistration]) -> list[RegistrationOut]:
    names = await directory.display_names(session, [r.student_id for r in found])
    return [RegistrationOut.model_validate({
        **{c: getattr(r, c) for c in RegistrationOut.model_fields if c != "display_name"}, "display_name": names.get(r.student_id),
    }) for r in found]


@lectures.post("", status_code=201, response_model=LectureOut, responses=problem_responses(*LECTURE_PROBLEMS),
               summary="Schedule a lecture by a scientist or engineer at the pilot base (staff)")
async def create_lecture(principal: Staff, body: LectureIn, session: DbSession, idempotency: IdempotencyKey, response: Response) -> LectureOut:
    """`speaker_id`, when given, is a registered mentor: they see the lecture's registrations and mark attendance."""
    found = await service.create(session, principal, body)
    response.headers["Location"] = f"/lectures/{found.id}"
    return await idempotency.save(await _lecture_out(session, found, response))


@lectures.get("", response_model=Page[LectureOut], responses=problem_responses("mentoring_time_zone_required"),
              summary="The lectures, soonest first (every signed-in person)")
async def list_lectures(
    _: Browser, session: DbSession, page: PageParams, discipline: Discipline | None = None,
    starts_from: Annotated[datetime | None, Query(alias="from", description="Those starting at or after this time (with its time zone).")] = None,
    starts_to: Annotated[datetime | None, Query(alias="to", description="Those starting before this time (with its time zone).")] = None,
) -> Page[LectureOut]:
    """Without `from`, the lectures that have not ended yet (cancelled ones too, with their reason)."""
    for name, value in (("from", starts_from), ("to", starts_to)):
        if value is not None and value.tzinfo is None:
            raise ProblemError("mentoring_time_zone_required", field=name)
    stmt = select(Lecture)
    if discipline is not None:
        stmt = stmt.where(Lecture.disciplines.contains([discipline.value]))
    stmt = stmt.where(Lecture.starts_at >= starts_from) if starts_from is not None else stmt.where(Lecture.ends_at > clock.now())
    if starts_to is not None:
        stmt = stmt.where(Lecture.starts_at < starts_to)
    found = await paginate(session, stmt, order_by=(Lecture.starts_at, Lecture.id), params=page)
    return Page(items=await lectures_out(session, found.items), next_cursor=found.next_cursor)


@lectures.get("/{lecture_id}", response_model=LectureOut, responses=problem_responses("mentoring_lecture_not_found"),
              summary="A lecture, with its places left and its ETag (every signed-in person)")
async def get_lecture(_: Browser, lecture_id: uuid.UUID, session: DbSession, response: Response) -> LectureOut:
    return await _lecture_out(session, await service.get(session, lecture_id), response)


@lectures.patch(
    "/{lecture_id}", response_model=LectureOut,
    responses=problem_responses("mentoring_lecture_not_found", "mentoring_lecture_cancelled", "mentoring_lecture_capacity_below_taken",
                                *LECTURE_PROBLEMS, *PRECONDITION_PROBLEMS),
    summary="Change a lecture (staff), with If-Match: the ETag you read",
)
async def change_lecture(principal: Staff, lecture_id: uuid.UUID, body: LecturePatch, session: DbSession, response: Response,
                         if_match: IfMatch = None) -> LectureOut:
    """Only the fields sent change. The capacity is never set below the places taken
    (`mentoring_lecture_capacity_below_taken`); a cancelled lecture is not changed."""
    return await _lecture_out(session, await service.change(session, principal, lecture_id, body, if_match), response)


@lectures.post(
    "/{lecture_id}/cancel", response_model=LectureOut,
    responses=problem_responses("mentoring_lecture_not_found", "mentoring_lecture_cancelled", "mentoring_lecture_started"),
    summary="Cancel a lecture before it starts (staff); its registrations are cancelled with it",
)
async def cancel_lecture(principal: Staff, lecture_id: uuid.UUID, body: LectureCancelIn, session: DbSession, response: Response) -> LectureOut:
    return await _lecture_out(session, await service.cancel(session, principal, lecture_id, body.reason), response)


@lectures.post(
    "/{lecture_id}/registrations", status_code=201, response_model=RegistrationOut,
    responses={200: {"description": "Registered already: the registration that holds the place.", "model": RegistrationOut},
               **problem_responses("mentoring_lecture_not_found", "student_not_found", "mentoring_registration_student_required",
                                   "mentoring_lecture_cancelled", "mentoring_lecture_started", "mentoring_not_in_programme",
                                   "mentoring_lecture_full")},
    summary="Take a place at a lecture (a student for themself, a guardian for their child, staff for any student)",
)
async def register(principal: Registrar, lecture_id: uuid.UUID, body: RegistrationIn, session: DbSession,
                   response: Response) -> RegistrationOut:
    """Until the lecture starts, up to its capacity (`mentoring_lecture_full`: nothing is stored).
    Registering again answers the registration that holds the place (200). Only a student of
    the programme (admitted, not exited)."""
    row, new = await service.register(session, principal, lecture_id, body.student_id)
    if not new:
        response.status_code = 200
    return (await registrations_out(session, [row]))[0]


@lectures.get(
    "/{lecture_id}/registrations", response_model=Page[RegistrationOut], responses=problem_responses("mentoring_lecture_not_found"),
    summary="A lecture's registrations, first registered first (staff all; a student their own, a guardian their child's, "
            "a coordinator their school's, the speaker-mentor the lecture's)",
)
async def list_lecture_registrations(principal: RegistrationReader, lecture_id: uuid.UUID, session: DbSession,
                                     page: PageParams) -> Page[RegistrationOut]:
    await service.get(session, lecture_id)
    stmt = select(LectureRegistration).where(LectureRegistration.lecture_id == lecture_id, service.visible_registrations(principal))
    found = await paginate(session, stmt, order_by=(LectureRegistration.registered_at, LectureRegistration.id), params=page)
    return Page(items=await registrations_out(session, found.items), next_cursor=found.next_cursor)


@lectures.post(
    "/{lecture_id}/registrations/{registration_id}/cancel", response_model=RegistrationOut,
    responses=problem_responses("mentoring_lecture_not_found", "mentoring_registration_not_found", "mentoring_lecture_started"),
    summary="Cancel a registration before the lecture starts, freeing its place (the student, their guardian, staff)",
)
async def withdraw(principal: Registrar, lecture_id: uuid.UUID, registration_id: uuid.UUID, session: DbSession) -> RegistrationOut:
    """One already cancelled is answered as it is."""
    return (await registrations_out(session, [await service.withdraw(session, principal, lecture_id, registration_id)]))[0]


@lectures.put(
    "/{lecture_id}/registrations/{registration_id}/attendance", response_model=RegistrationOut,
    responses=problem_responses("mentoring_lecture_not_found", "mentoring_registration_not_found", "mentoring_lecture_cancelled",
                                "mentoring_lecture_not_started", "mentoring_registration_cancelled"),
    summary="Mark a registration attended or absent once the lecture has started (staff, or the mentor who gives it)",
)
async def mark_attendance(principal: Marker, lecture_id: uuid.UUID, registration_id: uuid.UUID, body: AttendanceIn,
                          session: DbSession) -> RegistrationOut:
    """A mark may be corrected; each change is on the record."""
    row = await service.mark(session, principal, lecture_id, registration_id, RegistrationStatus(body.attendance))
    return (await registrations_out(session, [row]))[0]


@registrations.get(
    "", response_model=Page[RegistrationOut],
    summary="Lecture registrations you may see, newest first (a student their own, a guardian their child's, a coordinator "
            "their school's, a mentor their lectures', staff all)",
)
async def list_registrations(
    principal: RegistrationReader, session: DbSession, page: PageParams, student_id: uuid.UUID | None = None,
    status: RegistrationStatus | None = None,
) -> Page[RegistrationOut]:
    stmt = select(LectureRegistration).where(service.visible_registrations(principal))
    if student_id is not None:
        stmt = stmt.where(LectureRegistration.student_id == student_id)
    if status is not None:
        stmt = stmt.where(LectureRegistration.status == status)
    found = await paginate(session, stmt, order_by=(LectureRegistration.registered_at.desc(), LectureRegistration.id.desc()), params=page)
    return Page(items=await registrations_out(session, found.items), next_cursor=found.next_cursor)


router.include_router(lectures)
router.include_router(registrations)
