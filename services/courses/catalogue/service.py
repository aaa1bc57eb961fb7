"""The catalogue: staff create and change courses, terms with their blocks, sections and their meetings.

Every check runs before the first write, so a refusal stores nothing; every change is on the
chain in its transaction. A change locks its row and needs the ETag the caller read (If-Match),
so two staff editing one course cannot overwrite each other. Prerequisite changes are
serialised by one advisory lock: two changes made at once could otherwise each pass the
circle check and close a circle together. A section's capacity and `taken` are not changed
here: registration owns them (a raised capacity makes waitlist offers).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.courses.catalogue import rules
from services.courses.catalogue.rules import Meeting
from services.courses.catalogue.schemas import (
    MAX_MEETINGS, BlockIn, CourseIn, CoursePatch, MeetingIn, MeetingsIn, SectionIn, SectionPatch, TermIn, TermPatch, WeeklyIn,
)
from services.courses.db import chain, directory
from services.courses.models import Course, HostKind, Section, SectionMeeting, Term, TermBlock
from services.courses.results.models import Attendance
from shared import clock
from shared.db import xact_lock
from shared.etag import check_if_match
from shared.problems import ProblemError
from shared.tokens import Principal
from shared.unique import flush_unique, insert_unique

# Who may be named a section's teacher.
TEACHING_ROLES = frozenset({"staff", "mentor", "coordinator", "expert"})
COURSE_CONSTRAINTS = {"uq_course_code": "courses_course_code_taken"}
TERM_CONSTRAINTS = {"uq_term_title": "courses_term_title_taken"}
SECTION_CONSTRAINTS = {"uq_section_course_id_term_id_code": "courses_section_code_taken"}


async def _locked(session: AsyncSession, model: Any, key: uuid.UUID, problem: ProblemError, lock: bool) -> Any:
    stmt = select(model).where(model.id == key)
    # Locked, it is read afresh: the ETag checked is the one committed now.
    found = (await session.execute(stmt.with_for_update().execution_options(populate_existing=True) if lock else stmt)).scalar_one_or_none()
    if found is None:
        raise problem
    return found


async def _refuse_taken(session: AsyncSession, column: Any, value: Any, *where: Any, problem: ProblemError) -> None:
    """The clear answer to the common case; the unique constraint still answers a request that commits the same value meanwhile."""
    if (await session.execute(select(column).where(column == value, *where).limit(1))).first() is not None:
        raise problem


def _refuse_nulls(changes: dict[str, Any], nullable: Sequence[str] = ()) -> None:
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise ProblemError("courses_field_not_nullable", field=name)


async def _record(session: AsyncSession, principal: Principal, kind: str, row: Any, payload: dict[str, Any] | None = None) -> None:
    await chain.append(session, kind=kind, table=type(row).__table__, row_id=row.id, actor=principal.id, payload=payload)


# ---------------------------------------------------------------- courses


async def get_course(session: AsyncSession, course_id: uuid.UUID, *, lock: bool = False) -> Course:
    return await _locked(session, Course, course_id, ProblemError("courses_course_not_found", course_id=course_id), lock)


def _check_grades(min_grade: int, max_grade: int) -> None:
    if max_grade < min_grade:
        raise ProblemError("courses_grades_invalid", min_grade=min_grade, max_grade=max_grade)


async def _check_prerequisites(session: AsyncSession, course_id: uuid.UUID | None, prerequisites: list[uuid.UUID]) -> None:
    """Each is a course of the catalogue, never the course itself, and they make no circle."""
    if course_id is not None and course_id in prerequisites:
        raise ProblemError("courses_prerequisite_self", course_id=course_id)
    if not prerequisites:
        return
    await xact_lock(session, "courses.prerequisites")
    graph = dict((await session.execute(select(Course.id, Course.prerequisites))).all())
    for p in prerequisites:
        if p not in graph:
            raise ProblemError("courses_prerequisite_not_found", course_id=p)
    if course_id is None:
        return  # a new course: nothing names it yet, so it closes no circle
    graph[course_id] = prerequisites
    cycle = rules.prerequisite_cycle(graph, course_id)
    if cycle is not None:
        codes = dict((await session.execute(select(Course.id, Course.code).where(Course.id.in_(cycle)))).all())
        raise ProblemError("courses_prerequisite_cycle", cycle=" → ".join(codes.get(c, str(c)) for c in cycle))


async def create_course(session: AsyncSession, principal: Principal, data: CourseIn) -> Course:
    _check_grades(data.min_grade, data.max_grade)
    values = data.model_dump()
    values["prerequisites"] = rules.unique_in_order(data.prerequisites)
    await _check_prerequisites(session, None, values["prerequisites"])
    await _refuse_taken(session, Course.code, data.code, problem=ProblemError("courses_course_code_taken", course_code=data.code))
    found = Course(**values, created_by=principal.id, updated_at=clock.now())
    await insert_unique(session, found, "courses_course_code_taken", constraints=COURSE_CONSTRAINTS, course_code=data.code)
    await session.flush()
    await _record(session, principal, "course.created", found)
    return found


async def change_course(session: AsyncSession, principal: Principal, course_id: uuid.UUID, patch: CoursePatch,
                        if_match: str | None) -> Course:
    found = await get_course(session, course_id, lock=True)
    check_if_match(if_match, found.version)
    changes = patch.model_dump(exclude_unset=True)
    _refuse_nulls(changes)
    _check_grades(changes.get("min_grade", found.min_grade), changes.get("max_grade", found.max_grade))
    if "prerequisites" in changes:
        changes["prerequisites"] = rules.unique_in_order(changes["prerequisites"])
        await _check_prerequisites(session, course_id, changes["prerequisites"])
    changes = {k: v for k, v in changes.items() if getattr(found, k) != v}
    if not changes:
        return found
    if "code" in changes:
        await _refuse_taken(session, Course.code, changes["code"], problem=ProblemError("courses_course_code_taken", course_code=changes["code"]))
    for name, value in changes.items():
        setattr(found, name, value)
    found.updated_at = clock.now()
    await flush_unique(session, "courses_course_code_taken", constraints=COURSE_CONSTRAINTS, course_code=found.code)
    await _record(session, principal, "course.changed", found, {"fields": sorted(changes)})
    return found


# ---------------------------------------------------------------- terms


async def get_term(session: AsyncSession, term_id: uuid.UUID, *, lock: bool = False) -> Term:
    return await _locked(session, Term, term_id, ProblemError("courses_term_not_found", term_id=term_id), lock)


async def _grouped(session: AsyncSession, parent: Any, parent_ids: Sequence[uuid.UUID], *order: Any) -> dict[uuid.UUID, list[Any]]:
    """The rows whose `parent` column is one of `parent_ids`, grouped by it, each group in `order`."""
    found: dict[uuid.UUID, list[Any]] = {i: [] for i in parent_ids}
    if parent_ids:
        for row in (await session.execute(select(parent.class_).where(parent.in_(parent_ids)).order_by(*order))).scalars():
            found[getattr(row, parent.key)].append(row)
    return found


async def blocks_of(session: AsyncSession, term_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[TermBlock]]:
    """Each term's blocks, in date order."""
    return await _grouped(session, TermBlock.term_id, term_ids, TermBlock.starts_on, TermBlock.id)


def _check_term(starts_on: Any, ends_on: Any, blocks: Sequence[rules.Span]) -> None:
    reason = rules.blocks_problem(starts_on, ends_on, blocks)
    if reason is not None:
        raise ProblemError("courses_term_invalid", reason=reason)


def _blocks_payload(blocks: Sequence[rules.Span]) -> list[dict[str, str]]:
    return [{"kind": b.kind.value, "starts_on": b.starts_on.isoformat(), "ends_on": b.ends_on.isoformat()}
            for b in sorted(blocks, key=lambda b: b.starts_on)]


def _add_blocks(session: AsyncSession, term_id: uuid.UUID, blocks: Sequence[BlockIn]) -> None:
    session.add_all([TermBlock(term_id=term_id, kind=b.kind, starts_on=b.starts_on, ends_on=b.ends_on) for b in blocks])


async def create_term(session: AsyncSession, principal: Principal, data: TermIn) -> Term:
    _check_term(data.starts_on, data.ends_on, data.blocks)
    await _refuse_taken(session, Term.title, data.title, problem=ProblemError("courses_term_title_taken", title=data.title))
    found = Term(**data.model_dump(exclude={"blocks"}), created_by=principal.id, updated_at=clock.now())
    await insert_unique(session, found, "courses_term_title_taken", constraints=TERM_CONSTRAINTS, title=data.title)
    await session.flush()
    _add_blocks(session, found.id, data.blocks)
    await session.flush()
    await _record(session, principal, "term.created", found, {"blocks": _blocks_payload(data.blocks)})
    return found


async def _term_meetings(session: AsyncSession, term_id: uuid.UUID) -> list[Meeting]:
    stmt = select(SectionMeeting.starts_at, SectionMeeting.ends_at).join(Section, Section.id == SectionMeeting.section_id).where(
        Section.term_id == term_id)
    return [Meeting(a, b) for a, b in (await session.execute(stmt)).all()]


def _refuse_outside(blocks: Sequence[rules.Span], meetings: Sequence[Meeting]) -> None:
    stray = rules.outside(blocks, meetings)
    if stray is not None:
        raise ProblemError("courses_meeting_outside_blocks", starts_at=stray.starts_at.isoformat(), ends_at=stray.ends_at.isoformat())


async def change_term(session: AsyncSession, principal: Principal, term_id: uuid.UUID, patch: TermPatch, if_match: str | None) -> Term:
    """Dates, load limit, title, and `blocks` replacing them all: the sections' meetings must still lie within them."""
    found = await get_term(session, term_id, lock=True)
    check_if_match(if_match, found.version)
    changes = patch.model_dump(exclude_unset=True, exclude={"blocks"})
    _refuse_nulls(patch.model_dump(exclude_unset=True))
    current = (await blocks_of(session, [term_id]))[term_id]
    blocks: Sequence[rules.Span] = patch.blocks if patch.blocks is not None else current
    _check_term(changes.get("starts_on", found.starts_on), changes.get("ends_on", found.ends_on), blocks)
    new_blocks = patch.blocks is not None and _blocks_payload(patch.blocks) != _blocks_payload(current)
    if new_blocks:
        _refuse_outside(blocks, await _term_meetings(session, term_id))
    changes = {k: v for k, v in changes.items() if getattr(found, k) != v}
    if not changes and not new_blocks:
        return found
    if "title" in changes:
        await _refuse_taken(session, Term.title, changes["title"], problem=ProblemError("courses_term_title_taken", title=changes["title"]))
    for name, value in changes.items():
        setattr(found, name, value)
    found.updated_at = clock.now()
    await flush_unique(session, "courses_term_title_taken", constraints=TERM_CONSTRAINTS, title=found.title)
    payload: dict[str, Any] = {"fields": sorted([*changes, *(["blocks"] if new_blocks else [])])}
    if new_blocks:
        await session.execute(delete(TermBlock).where(TermBlock.term_id == term_id))
        _add_blocks(session, term_id, patch.blocks or [])
        await session.flush()
        payload["blocks"] = _blocks_payload(blocks)
    await _record(session, principal, "term.changed", found, payload)
    return found


# ---------------------------------------------------------------- sections


async def get_section(session: AsyncSession, section_id: uuid.UUID, *, lock: bool = False) -> Section:
    return await _locked(session, Section, section_id, ProblemError("courses_section_not_found", section_id=section_id), lock)


async def meetings_of(session: AsyncSession, section_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[SectionMeeting]]:
    """Each section's meetings, in time order."""
    return await _grouped(session, SectionMeeting.section_id, section_ids, SectionMeeting.starts_at, SectionMeeting.id)


async def _check_host(session: AsyncSession, host_kind: HostKind, host_id: uuid.UUID | None) -> None:
    """The base has no id; a school is an enabled school of the directory, a partner a partner university of it."""
    if host_kind is HostKind.base:
        if host_id is not None:
            raise ProblemError("courses_host_invalid", reason="a section at the pilot base names no host_id")
        return
    if host_id is None:
        raise ProblemError("courses_host_invalid", reason=f"a section hosted by a {host_kind.value} names its host_id")
    name = await (directory.school_name if host_kind is HostKind.school else directory.partner_name)(session, host_id)
    if name is None:
        raise ProblemError("courses_host_not_found", host_kind=host_kind.value, host_id=host_id)


async def _teacher_name(session: AsyncSession, teacher_id: uuid.UUID) -> str:
    """The teacher's directory name; refused unless an enabled person who may teach."""
    person = await directory.person(session, teacher_id)
    if person is None or person.disabled or not TEACHING_ROLES.intersection(person.roles):
        raise ProblemError("courses_teacher_not_found", teacher_id=teacher_id)
    return person.display_name


async def _section_code_free(session: AsyncSession, course_id: uuid.UUID, term_id: uuid.UUID, code: str) -> None:
    await _refuse_taken(session, Section.code, code, Section.course_id == course_id, Section.term_id == term_id,
                        problem=ProblemError("courses_section_code_taken", section_code=code))


def _meeting_order(m: Meeting) -> None:
    if m.ends_at <= m.starts_at:
        raise ProblemError("courses_meeting_order", starts_at=m.starts_at.isoformat(), ends_at=m.ends_at.isoformat())


def _expand(blocks: Sequence[TermBlock], term_id: uuid.UUID, pattern: WeeklyIn) -> list[Meeting]:
    block = next((b for b in blocks if b.id == pattern.block_id), None)
    if block is None:
        raise ProblemError("courses_block_not_found", block_id=pattern.block_id, term_id=term_id)
    if pattern.starts.tzinfo is not None or pattern.ends.tzinfo is not None:
        raise ProblemError("courses_weekly_pattern_invalid", reason="its times are China's local times, written without a zone")
    if pattern.ends <= pattern.starts:
        raise ProblemError("courses_weekly_pattern_invalid", reason=f"it ends ({pattern.ends.isoformat()}) before it starts "
                                                                    f"({pattern.starts.isoformat()})")
    made = rules.weekly(block, pattern.weekday, pattern.starts, pattern.ends, set(pattern.skip))
    if not made:
        raise ProblemError("courses_weekly_pattern_invalid",
                           reason=f"the {block.kind.value} block {block.starts_on.isoformat()} to {block.ends_on.isoformat()} "
                                  f"has no {pattern.weekday} to meet on")
    return made


async def _checked_meetings(session: AsyncSession, term_id: uuid.UUID, listed: Sequence[MeetingIn],
                            patterns: Sequence[WeeklyIn]) -> list[Meeting]:
    """The meetings listed and made by the weekly patterns: each ends after it starts, lies within
    one of the term's blocks, overlaps no other; at most MAX_MEETINGS."""
    blocks = (await blocks_of(session, [term_id]))[term_id]
    meetings = [Meeting(m.starts_at, m.ends_at) for m in listed]
    for m in meetings:
        _meeting_order(m)
    for p in patterns:
        meetings.extend(_expand(blocks, term_id, p))
    if len(meetings) > MAX_MEETINGS:
        raise ProblemError("courses_meetings_too_many", limit=MAX_MEETINGS, count=len(meetings))
    _refuse_outside(blocks, meetings)
    pair = rules.first_overlap(meetings)
    if pair is not None:
        raise ProblemError("courses_meetings_overlap", starts_at=pair[0].starts_at.isoformat(), other_starts_at=pair[1].starts_at.isoformat())
    return sorted(meetings, key=lambda m: m.starts_at)


def _add_meetings(session: AsyncSession, section_id: uuid.UUID, meetings: Sequence[Meeting]) -> None:
    session.add_all([SectionMeeting(section_id=section_id, starts_at=m.starts_at, ends_at=m.ends_at) for m in meetings])


def _meetings_payload(meetings: Sequence[Meeting]) -> dict[str, Any]:
    return {"meetings": len(meetings), "first": meetings[0].starts_at.isoformat() if meetings else None,
            "last": meetings[-1].starts_at.isoformat() if meetings else None}


async def create_section(session: AsyncSession, principal: Principal, data: SectionIn) -> Section:
    await get_course(session, data.course_id)
    await get_term(session, data.term_id)
    await _check_host(session, data.host_kind, data.host_id)
    teacher_name = data.teacher_name
    if data.teacher_id is not None:
        known = await _teacher_name(session, data.teacher_id)  # checked even when a name is given
        teacher_name = teacher_name or known
    if teacher_name is None:
        raise ProblemError("courses_teacher_name_required")
    meetings = await _checked_meetings(session, data.term_id, data.meetings, data.weekly)
    await _section_code_free(session, data.course_id, data.term_id, data.code)
    found = Section(**data.model_dump(exclude={"meetings", "weekly", "teacher_name"}), teacher_name=teacher_name, taken=0,
                    created_by=principal.id, updated_at=clock.now())
    await insert_unique(session, found, "courses_section_code_taken", constraints=SECTION_CONSTRAINTS, section_code=data.code)
    await session.flush()
    _add_meetings(session, found.id, meetings)
    await session.flush()
    await _record(session, principal, "section.created", found, _meetings_payload(meetings))
    return found


async def change_section(session: AsyncSession, principal: Principal, section_id: uuid.UUID, patch: SectionPatch,
                         if_match: str | None) -> Section:
    """Code, host, teacher, place; never the capacity (registration's)."""
    found = await get_section(session, section_id, lock=True)
    check_if_match(if_match, found.version)
    changes = patch.model_dump(exclude_unset=True)
    _refuse_nulls(changes, nullable=("host_id", "teacher_id"))
    if "host_kind" in changes or "host_id" in changes:
        kind = changes.get("host_kind", found.host_kind)
        # A move to the base drops the host; any other move names its host.
        host_id = changes.get("host_id", None if kind is HostKind.base else found.host_id)
        await _check_host(session, kind, host_id)
        changes["host_id"] = host_id
    if changes.get("teacher_id") is not None and changes["teacher_id"] != found.teacher_id:
        name = await _teacher_name(session, changes["teacher_id"])
        changes.setdefault("teacher_name", name)
    changes = {k: v for k, v in changes.items() if getattr(found, k) != v}
    if not changes:
        return found
    if "code" in changes:
        await _section_code_free(session, found.course_id, found.term_id, changes["code"])
    for name, value in changes.items():
        setattr(found, name, value)
    found.updated_at = clock.now()
    await flush_unique(session, "courses_section_code_taken", constraints=SECTION_CONSTRAINTS, section_code=found.code)
    await _record(session, principal, "section.changed", found, {"fields": sorted(changes)})
    return found


async def set_meetings(session: AsyncSession, principal: Principal, section_id: uuid.UUID, data: MeetingsIn,
                       if_match: str | None) -> Section:
    """Replace the section's meetings with those listed and made by the weekly patterns."""
    found = await get_section(session, section_id, lock=True)
    check_if_match(if_match, found.version)
    meetings = await _checked_meetings(session, found.term_id, data.meetings, data.weekly)
    current = [Meeting(m.starts_at, m.ends_at) for m in (await meetings_of(session, [section_id]))[section_id]]
    if current == meetings:
        return found
    # Attendance names its meeting: meetings that hold some are kept.
    if (await session.execute(select(Attendance.id).where(Attendance.section_id == section_id).limit(1))).first() is not None:
        raise ProblemError("courses_meetings_attended", section_id=section_id)
    await session.execute(delete(SectionMeeting).where(SectionMeeting.section_id == section_id))
    _add_meetings(session, section_id, meetings)
    found.updated_at = clock.now()  # and so its version: the ETag covers the meetings
    await session.flush()
    await _record(session, principal, "section.meetings_set", found, _meetings_payload(meetings))
    return found

