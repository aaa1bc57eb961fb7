"""The timeline's consumer, tracking's own entries, the mentors' relation, and who reads a student's rows.

`KINDS` maps each event type the timeline takes to how it reads: which payload field says
when it happened, and its one-line summary (in Chinese, as the programme's apps show it).
The students it concerns (`student_ids`, else `student_id`) and the ids it refers to (every
other `*_id` field) are read from the payload, so a new kind is one entry here and nothing
else: the consumer subscribes to every key (services/tracking/events.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.tracking.db import directory
from services.tracking.timeline.models import Mentorship, TimelineEntry
from shared import clock
from shared.disciplines import Discipline
from shared.ids import as_uuid
from shared.tokens import Principal

DISCIPLINES_ZH = {
    Discipline.math: "数学", Discipline.physics: "物理", Discipline.chemistry: "化学", Discipline.biology: "生物",
    Discipline.computer_science: "计算机科学",
}
MENTOR_KIND_ZH = {"lab": "实验室导师", "life": "人生导师"}
ENDED_ZH = {"end_request": "经申请结束", "rematch_request": "经申请重新匹配", "exited": "学生退出项目"}


def discipline_zh(value: Any) -> str:
    return DISCIPLINES_ZH.get(value, str(value)) if value is not None else ""


@dataclass(frozen=True)
class Kind:
    """How an event type reads on the timeline: the payload field of its time, and its summary."""

    at: str
    summary: Callable[[Any], str]


def _mentor(p: Any) -> str:
    return MENTOR_KIND_ZH.get(p.kind, p.kind) + (f"（{discipline_zh(p.discipline)}）" if p.discipline else "")


KINDS: dict[str, Kind] = {
    "selection.candidate.admitted": Kind("decided_at", lambda p: (
        f"入选{discipline_zh(p.discipline)}方向（{p.cohort_year} 级，{p.grade} 年级）")),
    "mentoring.mentor.assigned": Kind("started_at", lambda p: f"分配{_mentor(p)}"),
    "mentoring.mentorship.ended": Kind("ended_at", lambda p: f"{_mentor(p)}指导结束（{ENDED_ZH.get(p.reason, p.reason)}）"),
    "mentoring.defense.completed": Kind("decided_at", lambda p: (
        f"{discipline_zh(p.discipline)}项目答辩{'通过' if p.result == 'passed' else '未通过'}（{p.score:.1f} 分）")),
    "courses.registration.confirmed": Kind("confirmed_at", lambda p: "选课确认：获得教学班名额"),
    "courses.registration.dropped": Kind("dropped_at", lambda p: "退课" + ("（学生退出项目）" if p.reason == "exited" else "")),
    "courses.grade_skip.approved": Kind("approved_at", lambda p: f"跳级获批：{p.from_grade} 年级 → {p.to_grade} 年级"),
    "courses.course.completed": Kind("completed_at", lambda p: (
        "课程结业" + (f"（{p.grade:g} 分）" if p.grade is not None else "") if p.outcome == "pass" else "课程结业撤销（成绩更正）")),
}


def _fields(payload: Any) -> dict[str, Any]:
    return payload.model_dump() if isinstance(payload, BaseModel) else dict(payload)


def students_of(fields: dict[str, Any]) -> list[uuid.UUID]:
    found = fields.get("student_ids") or [fields.get("student_id")]
    return sorted({uuid.UUID(str(s)) for s in found if s is not None})


def refs_of(fields: dict[str, Any]) -> dict[str, str]:
    """The ids an event refers to, by name: its `*_id` fields but the student's own."""
    return {k: str(v) for k, v in sorted(fields.items()) if k.endswith("_id") and k != "student_id" and v is not None}


async def add_entries(session: AsyncSession, *, event_id: uuid.UUID, students: Iterable[uuid.UUID], kind: str, source: str,
                      occurred_at: datetime, summary: str, refs: dict[str, str]) -> None:
    """The event's entry for each student; one there already (a redelivery) stays as it is."""
    rows = [dict(event_id=event_id, student_id=s, kind=kind, source=source, occurred_at=occurred_at, summary=summary[:500], refs=refs,
                 recorded_at=clock.now()) for s in students]
    if rows:
        await session.execute(insert(TimelineEntry).values(rows).on_conflict_do_nothing())


async def on_event(session: AsyncSession, event: Any) -> None:
    """An event of a kind in `KINDS`: its entry on the timeline of each student it concerns."""
    kind = KINDS[event.type]
    fields = _fields(event.payload)
    payload = event.payload if isinstance(event.payload, BaseModel) else SimpleNamespace(**fields)
    await add_entries(session, event_id=event.event_id, students=students_of(fields), kind=event.type, source=event.source,
                      occurred_at=fields.get(kind.at) or event.occurred_at, summary=kind.summary(payload), refs=refs_of(fields))


# ---------------------------------------------------------------- who mentors whom


async def on_mentor_assigned(session: AsyncSession, event: Any) -> None:
    """The pair, kept; safe twice, and after its end (delivered late) it stays ended."""
    p = event.payload
    stmt = insert(Mentorship).values(mentorship_id=p.mentorship_id, student_id=p.student_id, mentor_id=p.mentor_id, kind=p.kind,
                                     started_at=p.started_at)
    await session.execute(stmt.on_conflict_do_update(index_elements=[Mentorship.mentorship_id], set_={"started_at": p.started_at}))


async def on_mentorship_ended(session: AsyncSession, event: Any) -> None:
    p = event.payload
    stmt = insert(Mentorship).values(mentorship_id=p.mentorship_id, student_id=p.student_id, mentor_id=p.mentor_id, kind=p.kind,
                                     ended_at=p.ended_at)
    await session.execute(stmt.on_conflict_do_update(index_elements=[Mentorship.mentorship_id], set_={"ended_at": p.ended_at}))


def visible(principal: Principal, student: ColumnElement[Any]) -> ColumnElement[bool]:
    """The directory's row scoping of the student (staff and admin all, a coordinator their
    school's, a guardian their children, a student themself), and a mentor their current mentees."""
    clauses = [directory.visible(principal, student)]
    me = as_uuid(principal.id)
    if principal.kind == "user" and principal.has_role("mentor") and me is not None:
        clauses.append(exists().where(Mentorship.student_id == student, Mentorship.mentor_id == me, Mentorship.ended_at.is_(None)))
    return or_(*clauses)


def visible_students(principal: Principal) -> ColumnElement[bool]:
    """`visible` on the directory's people: the students the caller may read the tracking of."""
    p = directory.tables.person
    return and_(p.c.roles.any_() == "student", visible(principal, p.c.person_id))


async def may_see(session: AsyncSession, principal: Principal, student_id: uuid.UUID) -> bool:
    p = directory.tables.person
    return (await session.execute(select(p.c.person_id).where(p.c.person_id == student_id, visible_students(principal)))).first() is not None
