"""Tracking's tests: calls as the world's people, new students in the read model, and events delivered as the worker delivers them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel

from services.tracking.db import directory
from services.tracking.enrolment.models import Enrolment, EnrolmentStatus, ExitReason
from services.tracking.events import consumers
from shared.directory.store import apply
from shared.events.contracts.courses import CourseCompleted, GradeSkipApproved, RegistrationConfirmed, RegistrationDropped
from shared.events.contracts.identity import PersonRecord
from shared.events.contracts.mentoring import DefenseCompleted, MentorAssigned, MentorshipEnded
from shared.events.contracts.selection import CandidateAdmitted, school_stage
from shared.events.worker import EventEnvelope
from tests.matrix.world import World

BASE = (datetime.now(UTC) - timedelta(days=500)).replace(microsecond=0)  # the past: staff actions happen now, after the events


async def call(w: World, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return await w.clients["tracking"].request(method, path, headers=w.caller(who).headers, **kwargs)


async def items(w: World, who: str, path: str, **params: Any) -> list[dict[str, Any]]:
    r = await call(w, who, "GET", path, params={"limit": 200, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def new_student(w: World, school: str = "school_a", grade: int = 8) -> str:
    """A student of the world's school, in tracking's read model (not enrolled)."""
    person = uuid.uuid4()
    await apply(w.tx.session, directory.tables, [PersonRecord(version=10**9, person_id=person, roles=["student"], display_name="林同学",
                                                              school_id=uuid.UUID(w.ids[school]), grade=grade)])
    await w.tx.session.flush()
    return str(person)


def envelope(type: str, subject: str, payload: BaseModel, at: datetime) -> EventEnvelope:
    return EventEnvelope(event_id=uuid.uuid4(), type=type, version=1, source=type.split(".")[0], subject=subject, payload=payload,
                         occurred_at=at, traceparent=None, attempt=1, delivery_id=1, consumer="tests")


def admitted(w: World, student: str, *, at: datetime = BASE, grade: int = 8, discipline: str = "math", cohort_year: int = 2027,
             school: str = "school_a") -> EventEnvelope:
    return envelope("selection.candidate.admitted", student, CandidateAdmitted(
        candidate_id=uuid.uuid4(), campaign_id=uuid.uuid4(), student_id=uuid.UUID(student), discipline=discipline, cohort_year=cohort_year,
        school_id=uuid.UUID(w.ids[school]), grade=grade, stage=school_stage(grade), rank=1, decided_at=at), at)


def grade_skip(student: str, from_grade: int, to_grade: int, *, at: datetime) -> EventEnvelope:
    return envelope("courses.grade_skip.approved", student, GradeSkipApproved(
        application_id=uuid.uuid4(), student_id=uuid.UUID(student), from_grade=from_grade, to_grade=to_grade, approved_at=at), at)


def assigned(student: str, mentor: str, *, at: datetime, mentorship_id: uuid.UUID | None = None, kind: str = "lab") -> EventEnvelope:
    return envelope("mentoring.mentor.assigned", student, MentorAssigned(
        mentorship_id=mentorship_id or uuid.uuid4(), student_id=uuid.UUID(student), mentor_id=uuid.UUID(mentor), kind=kind,
        discipline="math" if kind == "lab" else None, round_id=uuid.uuid4(), run_id=uuid.uuid4(), started_at=at), at)


def ended(started: EventEnvelope, *, at: datetime, reason: str = "end_request") -> EventEnvelope:
    p = started.payload
    return envelope("mentoring.mentorship.ended", started.subject, MentorshipEnded(
        mentorship_id=p.mentorship_id, student_id=p.student_id, mentor_id=p.mentor_id, kind=p.kind, discipline=p.discipline, ended_at=at,
        reason=reason), at)


def defense(students: list[str], *, at: datetime, result: str = "passed", score: float = 86.5) -> EventEnvelope:
    project = uuid.uuid4()
    return envelope("mentoring.defense.completed", str(project), DefenseCompleted(
        project_id=project, defense_id=uuid.uuid4(), student_ids=[uuid.UUID(s) for s in students], discipline="math", result=result,
        score=score, decided_at=at), at)


def seat(student: str, *, at: datetime, dropped: bool = False) -> EventEnvelope:
    ids = dict(registration_id=uuid.uuid4(), student_id=uuid.UUID(student), section_id=uuid.uuid4(), course_id=uuid.uuid4(), term_id=uuid.uuid4())
    if dropped:
        return envelope("courses.registration.dropped", student, RegistrationDropped(**ids, reason="dropped", dropped_at=at), at)
    return envelope("courses.registration.confirmed", student, RegistrationConfirmed(**ids, confirmed_at=at), at)


def completed(student: str, *, at: datetime, grade: str | None = None, outcome: str = "pass") -> EventEnvelope:
    return envelope("courses.course.completed", student, CourseCompleted(
        student_id=uuid.UUID(student), course_id=uuid.uuid4(), section_id=uuid.uuid4(), term_id=uuid.uuid4(), outcome=outcome,
        grade=grade, completed_at=at), at)


async def deliver(w: World, *events: EventEnvelope) -> None:
    """Each event to every tracking consumer that takes its type, as the worker hands it over."""
    for event in events:
        for consumer in consumers:
            handler = consumer.handlers.get(event.type)
            if handler is not None:
                await handler(w.tx.session, event)
    await w.tx.session.flush()


async def exit_student(w: World, student: str, at: datetime, reason: ExitReason = ExitReason.voluntary) -> None:
    """The student exits, as a staff exit decision (a later item) will record it."""
    row = await w.tx.session.get(Enrolment, uuid.UUID(student), populate_existing=True)
    row.status, row.exit_reason, row.exited_at, row.updated_at = EnrolmentStatus.exited, reason, at, at
    await w.tx.session.flush()


def later(days: int = 0, **kw: Any) -> datetime:
    return BASE + timedelta(days=days, **kw)
