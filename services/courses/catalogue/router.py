"""The catalogue API: staff write courses, terms and sections; every signed-in person browses them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, Query, Response
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.courses.catalogue import service
from services.courses.catalogue.schemas import (
    BlockOut, CourseIn, CourseOut, CoursePatch, MeetingOut, MeetingsIn, SectionIn, SectionOut, SectionPatch, TermIn, TermOut, TermPatch,
)
from services.courses.db import directory
from services.courses.models import Course, CourseType, HostKind, Section, Term
from shared.auth import USER_ROLES, require
from shared.db import DbSession
from shared.disciplines import Discipline
from shared.etag import PRECONDITION_PROBLEMS, IfMatch, set_etag
from shared.idempotency import IdempotencyKey
from shared.pagination import Page, PageParams, filtered, paginate
from shared.problems import problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter()
courses = APIRouter(prefix="/courses", tags=["catalogue"])
terms = APIRouter(prefix="/terms", tags=["catalogue"])
sections = APIRouter(prefix="/sections", tags=["catalogue"])

Staff = Annotated[Principal, Depends(require("staff"))]
# Every signed-in person browses the catalogue.
Browser = Annotated[Principal, Depends(require(*USER_ROLES))]
GradeQuery = Annotated[int | None, Query(ge=1, le=12, description="Those a student of this grade may take.")]

COURSE_PROBLEMS = ("courses_grades_invalid", "courses_prerequisite_not_found", "courses_course_code_taken")
TERM_PROBLEMS = ("courses_term_invalid", "courses_term_title_taken")
MEETING_PROBLEMS = ("courses_meeting_order", "courses_meeting_outside_blocks", "courses_meetings_overlap", "courses_block_not_found",
                    "courses_weekly_pattern_invalid", "courses_meetings_too_many")
SECTION_PROBLEMS = ("courses_host_invalid", "courses_host_not_found", "courses_teacher_not_found", "courses_section_code_taken")


def _grade(stmt: Select, grade: int | None) -> Select:
    return stmt if grade is None else stmt.where(Course.min_grade <= grade, Course.max_grade >= grade)


# ---------------------------------------------------------------- courses


def _course_out(found: Course, response: Response) -> CourseOut:
    set_etag(response, found.version)
    return CourseOut.model_validate(found, from_attributes=True)


@courses.post("", status_code=201, response_model=CourseOut, responses=problem_responses(*COURSE_PROBLEMS, "courses_prerequisite_self"),
              summary="Add a course to the catalogue (staff)")
async def create_course(principal: Staff, body: CourseIn, session: DbSession, idempotency: IdempotencyKey, response: Response) -> CourseOut:
    """`prerequisites` are courses of the catalogue (a repeat counts once); the eligible grades run from `min_grade` to `max_grade`."""
    found = await service.create_course(session, principal, body)
    response.headers["Location"] = f"/courses/{found.id}"
    return await idempotency.save(_course_out(found, response))


@courses.get("", response_model=Page[CourseOut], summary="The catalogue's courses, by code (every signed-in person)")
async def list_courses(_: Browser, session: DbSession, page: PageParams, discipline: Discipline | None = None,
                       type: CourseType | None = None, grade: GradeQuery = None) -> Page[CourseOut]:
    stmt = select(Course)
    if discipline is not None:
        stmt = stmt.where(Course.discipline == discipline)
    if type is not None:
        stmt = stmt.where(Course.type == type)
    return await paginate(session, _grade(stmt, grade), order_by=(Course.code, Course.id), params=page,
                          item=lambda c: CourseOut.model_validate(c, from_attributes=True))


@courses.get("/{course_id}", response_model=CourseOut, responses=problem_responses("courses_course_not_found"),
             summary="A course, with its ETag (every signed-in person)")
async def get_course(_: Browser, course_id: uuid.UUID, session: DbSession, response: Response) -> CourseOut:
    return _course_out(await service.get_course(session, course_id), response)


@courses.patch("/{course_id}", response_model=CourseOut,
               responses=problem_responses("courses_course_not_found", "courses_field_not_nullable", "courses_prerequisite_self",
                                           "courses_prerequisite_cycle", *COURSE_PROBLEMS, *PRECONDITION_PROBLEMS),
               summary="Change a course (staff), with If-Match: the ETag you read")
async def change_course(principal: Staff, course_id: uuid.UUID, body: CoursePatch, session: DbSession, response: Response,
                        if_match: IfMatch = None) -> CourseOut:
    """Only the fields sent change. `prerequisites` replaces the list: never the course itself
    (`courses_prerequisite_self`), never a circle through other courses (`courses_prerequisite_cycle`)."""
    return _course_out(await service.change_course(session, principal, course_id, body, if_match), response)


# ---------------------------------------------------------------- terms


async def terms_out(session: AsyncSession, found: Sequence[Term]) -> list[TermOut]:
    blocks = await service.blocks_of(session, [t.id for t in found])
    return [TermOut.model_validate({
        **{c: getattr(t, c) for c in TermOut.model_fields if c != "blocks"},
        "blocks": [BlockOut.model_validate(b, from_attributes=True) for b in blocks[t.id]],
    }) for t in found]


async def _term_out(session: AsyncSession, found: Term, response: Response) -> TermOut:
    set_etag(response, found.version)
    return (await terms_out(session, [found]))[0]


@terms.post("", status_code=201, response_model=TermOut, responses=problem_responses(*TERM_PROBLEMS),
            summary="Open a term with its weekend sessions and vacation blocks (staff)")
async def create_term(principal: Staff, body: TermIn, session: DbSession, idempotency: IdempotencyKey, response: Response) -> TermOut:
    """The blocks lie within the term's dates and do not overlap; a weekends block means its Saturdays and Sundays."""
    found = await service.create_term(session, principal, body)
    response.headers["Location"] = f"/terms/{found.id}"
    return await idempotency.save(await _term_out(session, found, response))


@terms.get("", response_model=Page[TermOut], summary="The terms, latest first (every signed-in person)")
async def list_terms(_: Browser, session: DbSession, page: PageParams) -> Page[TermOut]:
    found = await paginate(session, select(Term), order_by=(Term.starts_on.desc(), Term.id.desc()), params=page)
    return Page(items=await terms_out(session, found.items), next_cursor=found.next_cursor)


@terms.get("/{term_id}", response_model=TermOut, responses=problem_responses("courses_term_not_found"),
           summary="A term with its blocks, and its ETag (every signed-in person)")
async def get_term(_: Browser, term_id: uuid.UUID, session: DbSession, response: Response) -> TermOut:
    return await _term_out(session, await service.get_term(session, term_id), response)


@terms.patch("/{term_id}", response_model=TermOut,
             responses=problem_responses("courses_term_not_found", "courses_field_not_nullable", "courses_meeting_outside_blocks",
                                         *TERM_PROBLEMS, *PRECONDITION_PROBLEMS),
             summary="Change a term or its blocks (staff), with If-Match: the ETag you read")
async def change_term(principal: Staff, term_id: uuid.UUID, body: TermPatch, session: DbSession, response: Response,
                      if_match: IfMatch = None) -> TermOut:
    """Only the fields sent change; `blocks` replaces them all. Refused while a section's meeting
    would lie outside the new blocks (`courses_meeting_outside_blocks`): move the meetings first."""
    return await _term_out(session, await service.change_term(session, principal, term_id, body, if_match), response)


# ---------------------------------------------------------------- sections


async def sections_out(session: AsyncSession, found: Sequence[Section]) -> list[SectionOut]:
    meetings = await service.meetings_of(session, [s.id for s in found])
    hosts = await directory.organisation_names(session, {s.host_id for s in found if s.host_id is not None})
    return [SectionOut.model_validate({
        **{c: getattr(s, c) for c in SectionOut.model_fields if c not in ("host_name", "seats_left", "meetings")},
        "host_name": hosts.get(s.host_id) if s.host_id is not None else None,
        "seats_left": max(0, s.capacity - s.taken),
        "meetings": [MeetingOut.model_validate(m, from_attributes=True) for m in meetings[s.id]],
    }) for s in found]


async def _section_out(session: AsyncSession, found: Section, response: Response) -> SectionOut:
    set_etag(response, found.version)
    return (await sections_out(session, [found]))[0]


@sections.post("", status_code=201, response_model=SectionOut,
               responses=problem_responses("courses_course_not_found", "courses_term_not_found", "courses_teacher_name_required",
                                           *SECTION_PROBLEMS, *MEETING_PROBLEMS),
               summary="Open a section of a course in a term, at the base, a school or a partner university (staff)")
async def create_section(principal: Staff, body: SectionIn, session: DbSession, idempotency: IdempotencyKey,
                         response: Response) -> SectionOut:
    """The host is the base (no `host_id`), a school or a partner university of the directory
    (cross-school). The meetings are those listed plus those the weekly patterns make (e.g.
    every Saturday 09:00-11:30 China time of the weekends block); each lies within one of the
    term's blocks."""
    found = await service.create_section(session, principal, body)
    response.headers["Location"] = f"/sections/{found.id}"
    return await idempotency.save(await _section_out(session, found, response))


@sections.get("", response_model=Page[SectionOut], summary="Sections with their seats and meetings, by code (every signed-in person)")
async def list_sections(
    _: Browser, session: DbSession, page: PageParams, term_id: uuid.UUID | None = None, course_id: uuid.UUID | None = None,
    discipline: Discipline | None = None, type: CourseType | None = None, grade: GradeQuery = None,
    host_kind: HostKind | None = None,
    host_id: Annotated[uuid.UUID | None, Query(description="Those hosted by this school or partner university.")] = None,
) -> Page[SectionOut]:
    stmt = select(Section)
    if discipline is not None or type is not None or grade is not None:
        stmt = stmt.join(Course, Course.id == Section.course_id)
        if discipline is not None:
            stmt = stmt.where(Course.discipline == discipline)
        if type is not None:
            stmt = stmt.where(Course.type == type)
        stmt = _grade(stmt, grade)
    stmt = filtered(stmt, {Section.term_id: term_id, Section.course_id: course_id, Section.host_kind: host_kind, Section.host_id: host_id})
    found = await paginate(session, stmt, order_by=(Section.code, Section.id), params=page)
    return Page(items=await sections_out(session, found.items), next_cursor=found.next_cursor)


@sections.get("/{section_id}", response_model=SectionOut, responses=problem_responses("courses_section_not_found"),
              summary="A section with its seats left, its meetings and its ETag (every signed-in person)")
async def get_section(_: Browser, section_id: uuid.UUID, session: DbSession, response: Response) -> SectionOut:
    return await _section_out(session, await service.get_section(session, section_id), response)


@sections.patch("/{section_id}", response_model=SectionOut,
                responses=problem_responses("courses_section_not_found", "courses_field_not_nullable", *SECTION_PROBLEMS,
                                            *PRECONDITION_PROBLEMS),
                summary="Change a section's code, host, teacher or place (staff), with If-Match: the ETag you read")
async def change_section(principal: Staff, section_id: uuid.UUID, body: SectionPatch, session: DbSession, response: Response,
                         if_match: IfMatch = None) -> SectionOut:
    """Only the fields sent change. The capacity is not changed here: registration owns it (a
    raised capacity makes waitlist offers), so `capacity` in this body is refused. A new
    `teacher_id` brings its directory name unless `teacher_name` is sent too."""
    return await _section_out(session, await service.change_section(session, principal, section_id, body, if_match), response)


@sections.put("/{section_id}/meetings", response_model=SectionOut,
              responses=problem_responses("courses_section_not_found", "courses_meetings_attended", *MEETING_PROBLEMS, *PRECONDITION_PROBLEMS),
              summary="Replace a section's meetings, listed or by weekly patterns (staff), with If-Match: the section's ETag")
async def set_meetings(principal: Staff, section_id: uuid.UUID, body: MeetingsIn, session: DbSession, response: Response,
                       if_match: IfMatch = None) -> SectionOut:
    """The meetings become those listed plus those the weekly patterns make; each within one of
    the term's blocks, none overlapping another."""
    return await _section_out(session, await service.set_meetings(session, principal, section_id, body, if_match), response)


router.include_router(courses)
router.include_router(terms)
router.include_router(sections)
