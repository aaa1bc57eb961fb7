"""Exemptions (免修/免考) and grade skips (跳级): a student or their guardian applies with evidence;
staff decide an exemption once (a course exemption completes the course, an exam exemption is
the waiver on record); a grade skip is decided by the student's school's coordinator, then staff,
then admin, each a decision on the chain, a refusal ending it and the last approval publishing
`courses.grade_skip.approved`. Every refusal names its rule and stores nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from services.courses.applications import service as applications
from services.courses.applications.models import Exemption, GradeSkip, GradeSkipDecision
from services.courses.applications.schemas import GradeSkipIn
from services.courses.db import chain, directory
from services.courses.models import Completion, CompletionBasis, Course, CourseType, HostKind, Section, Term
from shared import clock
from shared.directory.store import apply
from shared.disciplines import Discipline
from shared.events.contracts.courses import GradeSkipApproved
from shared.events.contracts.identity import PersonRecord
from shared.events.models import Event
from shared.problems import ProblemError
from shared.tokens import Principal
from tests.courses.support import call
from tests.selection.support import problem

APPROVED = "courses.grade_skip.approved"
EVIDENCE = {"evidence_kind": "competition_award", "evidence": "2026 全国中学生数学奥林匹克竞赛（福建赛区）一等奖",
            "links": ["https://example.org/cmo/2026/results"]}


async def _course(w, *, section: bool = False) -> tuple[str, str | None]:
    """A new course of the catalogue (made with the ORM: the catalogue's API is another's), and a section of it if asked."""
    s, now = w.tx.session, clock.now()
    made = dict(created_by=w.ids["staff"], updated_at=now)
    course = Course(code=f"T-{uuid.uuid4().hex[:10]}", title="组合数学", type=CourseType.research, discipline=Discipline.math, level=3,
                    min_grade=4, max_grade=12, prerequisites=[], hours=40, description="计数、图论与极值问题。", **made)
    s.add(course)
    await s.flush()
    if not section:
        return str(course.id), None
    term = Term(title=f"term {uuid.uuid4().hex[:8]}", starts_on=now.date(), ends_on=now.date(), load_limit=3, **made)
    s.add(term)
    await s.flush()
    row = Section(course_id=course.id, term_id=term.id, code="B", host_kind=HostKind.base, host_id=None, teacher_name="陈老师",
                  place="泉州五中 实验楼 202", capacity=20, taken=0, **made)
    s.add(row)
    await s.flush()
    return str(course.id), str(row.id)


async def _new_student(w, school: str, grade: int | None) -> Principal:
    """A new student in the directory (no token: they apply through the service)."""
    student = uuid.uuid4()
    await apply(w.tx.session, directory.tables, [PersonRecord(version=10**9, person_id=student, roles=["student"], display_name="学生",
                                                              school_id=uuid.UUID(w.ids[school]), grade=grade)])
    await w.tx.session.flush()
    return Principal(id=str(student), kind="user", roles=frozenset({"student"}))


def _exemption(course_id: str, kind: str = "course", **extra: Any) -> dict[str, Any]:
    return {"course_id": course_id, "kind": kind, **EVIDENCE, **extra}


async def _ok(r, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return r.json()


async def _count(w, model, **where) -> int:
    stmt = sa.select(sa.func.count()).select_from(model).where(*(getattr(model, k) == v for k, v in where.items()))
    return (await w.tx.session.execute(stmt)).scalar_one()


async def _kinds(w, table, row_id: str) -> list[str]:
    return [e.kind for e in await chain.entries(w.tx.session, table=table, row_id=uuid.UUID(row_id))]


async def _approved_events(w, student: str) -> list[Event]:
    stmt = sa.select(Event).where(Event.type == APPROVED, Event.subject == student)
    return list((await w.tx.session.execute(stmt)).scalars())


async def _decide(w, who: str, application_id: str, level: str, outcome: str = "approved"):
    return await call(w, who, "POST", f"/grade-skips/{application_id}/decisions",
                      json={"level": level, "outcome": outcome, "reason": f"The {level} level finds the evidence sufficient."})


async def _queue(w, who: str) -> list[str]:
    return [x["id"] for x in (await _ok(await call(w, who, "GET", "/grade-skips/queue", params={"limit": 200})))["items"]]


# ---------------------------------------------------------------- exemptions


async def test_a_course_exemption_approved_completes_the_course_once_and_for_good(w):
    course, _ = await _course(w)
    applied = await _ok(await call(w, "student", "POST", "/exemptions", json=_exemption(course)), 201)
    assert (applied["status"], applied["applicant"], applied["student_id"]) == ("pending", "student", w.ids["student"])
    assert applied["links"] == EVIDENCE["links"] and applied["section_id"] is None
    pending = await _ok(await call(w, "staff", "GET", "/exemptions", params={"status": "pending", "course_id": course}))
    assert [x["id"] for x in pending["items"]] == [applied["id"]]
    assert await _count(w, Completion, student_id=uuid.UUID(w.ids["student"]), course_id=uuid.UUID(course)) == 0
    decided = await _ok(await call(w, "staff", "POST", f"/exemptions/{applied['id']}/decision",
                                   json={"outcome": "approved", "reason": "The olympiad award covers the whole course."}))
    assert (decided["status"], decided["decision_reason"]) == ("approved", "The olympiad award covers the whole course.")
    [done] = (await w.tx.session.execute(sa.select(Completion).where(
        Completion.student_id == uuid.UUID(w.ids["student"]), Completion.course_id == uuid.UUID(course)))).scalars()
    assert done.basis is CompletionBasis.exemption and done.section_id is None
    # Decided, it does not change: a second decision is refused and nothing moves.
    again = problem(await call(w, "staff", "POST", f"/exemptions/{applied['id']}/decision",
                               json={"outcome": "refused", "reason": "Changed my mind."}), 409, "courses_application_decided")
    assert f"{applied['id']} is approved" in again["detail"]
    assert (await _ok(await call(w, "student", "GET", f"/exemptions/{applied['id']}")))["status"] == "approved"
    problem(await call(w, "student", "POST", f"/exemptions/{applied['id']}/withdraw"), 409, "courses_application_decided")
    # Completed, the course has nothing left to exempt: neither the course nor an exam of it.
    problem(await call(w, "student", "POST", "/exemptions", json=_exemption(course)), 409, "courses_exemption_granted")
    section = Section(course_id=uuid.UUID(course), term_id=(await w.tx.session.execute(sa.select(Term.id).limit(1))).scalar_one(), code="Z",
                      host_kind=HostKind.base, host_id=None, teacher_name="陈老师", place="泉州五中", capacity=5, taken=0,
                      created_by=w.ids["staff"], updated_at=clock.now())
    w.tx.session.add(section)
    await w.tx.session.flush()
    problem(await call(w, "student", "POST", "/exemptions", json=_exemption(course, "exam", section_id=str(section.id))),
            409, "courses_exemption_granted")
    assert await _count(w, Exemption, course_id=uuid.UUID(course)) == 1
    assert await _kinds(w, Exemption.__table__, applied["id"]) == ["exemption.applied_course", "exemption.approved"]
    assert await _kinds(w, Completion.__table__, str(done.id)) == ["completion.exempted"]


async def test_an_exam_exemption_refused_stores_nothing_granted_and_approved_is_the_waiver_results_read(w):
    course, section = await _course(w, section=True)
    child = w.ids["child"]
    first = await _ok(await call(w, "guardian", "POST", "/exemptions", json=_exemption(course, "exam", student_id=child, section_id=section)), 201)
    assert (first["applicant"], first["section_id"], first["kind"]) == ("guardian", section, "exam")
    refused = await _ok(await call(w, "staff", "POST", f"/exemptions/{first['id']}/decision",
                                   json={"outcome": "refused", "reason": "A school exam is not the programme's final exam."}))
    assert refused["status"] == "refused"
    assert await applications.waived_exams(w.tx.session, uuid.UUID(section)) == set()
    # Refused, the student may apply again, with better evidence.
    second = await _ok(await call(w, "guardian", "POST", "/exemptions", json=_exemption(course, "exam", student_id=child, section_id=section)), 201)
    await _ok(await call(w, "staff", "POST", f"/exemptions/{second['id']}/decision",
                         json={"outcome": "approved", "reason": "The national award covers the exam's content."}))
    waived = await _ok(await call(w, "staff", "GET", "/exemptions", params={"kind": "exam", "status": "approved", "section_id": section}))
    assert [(x["id"], x["student_id"]) for x in waived["items"]] == [(second["id"], child)]
    assert await applications.waived_exams(w.tx.session, uuid.UUID(section)) == {uuid.UUID(child)}
    # An exam exemption grants no completion: the course is still to be passed.
    assert await _count(w, Completion, course_id=uuid.UUID(course)) == 0
    problem(await call(w, "guardian", "POST", "/exemptions", json=_exemption(course, "exam", student_id=child, section_id=section)),
            409, "courses_exemption_granted")
    assert await _kinds(w, Exemption.__table__, first["id"]) == ["exemption.applied_exam", "exemption.refused"]


async def test_one_open_application_per_student_and_course_withdrawn_by_the_applicant_side_only(w):
    course, section = await _course(w, section=True)
    mine = await _ok(await call(w, "student", "POST", "/exemptions", json=_exemption(course)), 201)
    for body in (_exemption(course), _exemption(course, "exam", section_id=section)):
        twice = problem(await call(w, "student", "POST", "/exemptions", json=body), 409, "courses_application_open")
        assert f"pending exemption application ({mine['id']})" in twice["detail"]
    assert await _count(w, Exemption, course_id=uuid.UUID(course)) == 1
    # Nobody else withdraws it: another's guardian, staff.
    problem(await call(w, "guardian", "POST", f"/exemptions/{mine['id']}/withdraw"), 404, "courses_exemption_not_found")
    problem(await call(w, "staff", "POST", f"/exemptions/{mine['id']}/withdraw"), 403, "forbidden")
    withdrawn = await _ok(await call(w, "student", "POST", f"/exemptions/{mine['id']}/withdraw"))
    assert withdrawn["status"] == "withdrawn" and withdrawn["withdrawn_at"] is not None
    repeated = await _ok(await call(w, "student", "POST", f"/exemptions/{mine['id']}/withdraw"))
    assert repeated["withdrawn_at"] == withdrawn["withdrawn_at"]
    problem(await call(w, "staff", "POST", f"/exemptions/{mine['id']}/decision", json={"outcome": "approved", "reason": "Too late."}),
            409, "courses_application_decided")
    await _ok(await call(w, "student", "POST", "/exemptions", json=_exemption(course)), 201)
    assert await _kinds(w, Exemption.__table__, mine["id"]) == ["exemption.applied_course", "exemption.withdrawn"]


async def test_a_retried_application_with_the_same_idempotency_key_is_filed_once(w):
    course, _ = await _course(w)
    headers = {**w.caller("student").headers, "Idempotency-Key": str(uuid.uuid4())}
    first = await w.clients["courses"].post("/exemptions", json=_exemption(course), headers=headers)
    again = await w.clients["courses"].post("/exemptions", json=_exemption(course), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201) and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"] and first.headers["Location"] == f"/exemptions/{first.json()['id']}"
    assert await _count(w, Exemption, course_id=uuid.UUID(course)) == 1


@pytest.mark.parametrize("who, body, status, code", [
    # someone else's child, another school's student, a student for another
    ("guardian", lambda w, c, s: _exemption(c, student_id=w.ids["student"]), 404, "student_not_found"),
    ("student", lambda w, c, s: _exemption(c, student_id=w.ids["other_student"]), 404, "student_not_found"),
    ("guardian", lambda w, c, s: _exemption(c, student_id=str(uuid.uuid4())), 404, "student_not_found"),
    ("guardian", lambda w, c, s: _exemption(c), 422, "courses_application_student_required"),
    # unknown course, a section of another course or none, a section on a course exemption
    ("student", lambda w, c, s: _exemption(str(uuid.uuid4())), 404, "courses_course_not_found"),
    ("student", lambda w, c, s: _exemption(c, "exam", section_id=str(uuid.uuid4())), 404, "courses_section_not_found"),
    ("student", lambda w, c, s: _exemption(w.ids["course_b"], "exam", section_id=s), 404, "courses_section_not_found"),
    ("student", lambda w, c, s: _exemption(c, "exam"), 422, "courses_exemption_section_invalid"),
    ("student", lambda w, c, s: _exemption(c, section_id=s), 422, "courses_exemption_section_invalid"),
    # the evidence: NUL, too long, blank, links not https, too many, an unknown kind or field
    ("student", lambda w, c, s: {**_exemption(c), "evidence": "一等奖\u0000"}, 422, "validation_failed"),
    ("student", lambda w, c, s: {**_exemption(c), "evidence": "奖" * 2001}, 422, "validation_failed"),
    ("student", lambda w, c, s: {**_exemption(c), "evidence": "   "}, 422, "validation_failed"),
    ("student", lambda w, c, s: {**_exemption(c), "links": ["http://example.org/award"]}, 422, "validation_failed"),
    ("student", lambda w, c, s: {**_exemption(c), "links": ["javascript:alert(1)"]}, 422, "validation_failed"),
    ("student", lambda w, c, s: {**_exemption(c), "links": ["https://example.org/" + "a" * 500]}, 422, "validation_failed"),
    ("student", lambda w, c, s: {**_exemption(c), "links": [f"https://example.org/{i}" for i in range(6)]}, 422, "validation_failed"),
    ("student", lambda w, c, s: {**_exemption(c), "evidence_kind": "rumour"}, 422, "validation_failed"),
    ("student", lambda w, c, s: {**_exemption(c), "status": "approved"}, 422, "validation_failed"),
    # who may not apply at all
    ("staff", lambda w, c, s: _exemption(c, student_id=w.ids["student"]), 403, "forbidden"),
    ("coordinator", lambda w, c, s: _exemption(c, student_id=w.ids["student"]), 403, "forbidden"),
])
async def test_a_bad_exemption_application_names_its_rule_and_stores_nothing(w, who, body, status, code):
    course, section = await _course(w, section=True)
    before = await _count(w, Exemption)
    problem(await call(w, who, "POST", "/exemptions", json=body(w, course, section)), status, code)
    assert await _count(w, Exemption) == before


async def test_an_exemption_is_read_within_the_caller_s_scope_and_decided_by_staff_only(w):
    mine = w.ids["exemption_student"]
    problem(await call(w, "guardian", "GET", f"/exemptions/{mine}"), 404, "courses_exemption_not_found")
    assert (await _ok(await call(w, "coordinator", "GET", f"/exemptions/{mine}")))["display_name"] is not None
    problem(await call(w, "student", "GET", f"/exemptions/{w.ids['exemption_other']}"), 404, "courses_exemption_not_found")
    problem(await call(w, "staff", "GET", f"/exemptions/{uuid.uuid4()}"), 404, "courses_exemption_not_found")
    for who in ("student", "coordinator", "admin"):
        problem(await call(w, who, "POST", f"/exemptions/{mine}/decision", json={"outcome": "approved", "reason": "Looks fine."}),
                403, "forbidden")
    for reason in ("", "ok", "x" * 2001, "fine\u0000"):
        problem(await call(w, "staff", "POST", f"/exemptions/{mine}/decision", json={"outcome": "approved", "reason": reason}),
                422, "validation_failed")
    problem(await call(w, "staff", "POST", f"/exemptions/{mine}/decision", json={"outcome": "maybe", "reason": "Not sure yet."}),
            422, "validation_failed")
    assert (await _ok(await call(w, "staff", "GET", f"/exemptions/{mine}")))["status"] == "pending"
    assert await _kinds(w, Exemption.__table__, mine) == ["exemption.applied_course"]


# ---------------------------------------------------------------- grade skips


async def test_a_grade_skip_approved_at_all_three_levels_in_order_publishes_the_event(w):
    # The student's application in the world waits for staff; they withdraw it and ask again, for grade 11.
    await _ok(await call(w, "student", "POST", f"/grade-skips/{w.ids['grade_skip_student']}/withdraw"))
    applied = await _ok(await call(w, "student", "POST", "/grade-skips", json={"to_grade": 11, **EVIDENCE}), 201)
    skip = applied["id"]
    assert (applied["from_grade"], applied["to_grade"], applied["waiting_for"], applied["decisions"]) == (9, 11, "coordinator", [])
    assert skip in await _queue(w, "coordinator") and skip not in await _queue(w, "staff")
    # Staff and admin before the coordinator: out of order, nothing stored.
    for who in ("staff", "admin"):
        refused = problem(await _decide(w, who, skip, who), 409, "courses_grade_skip_out_of_order")
        assert f"waits for the coordinator level, not {who}" in refused["detail"]
    assert await _count(w, GradeSkipDecision, grade_skip_id=uuid.UUID(skip)) == 0
    after = await _ok(await _decide(w, "coordinator", skip, "coordinator"))
    assert after["waiting_for"] == "staff" and [d["level"] for d in after["decisions"]] == ["coordinator"]
    assert skip not in await _queue(w, "coordinator") and skip in await _queue(w, "staff")
    # Admin cannot decide before staff; the coordinator cannot decide twice.
    problem(await _decide(w, "admin", skip, "admin"), 409, "courses_grade_skip_out_of_order")
    problem(await _decide(w, "coordinator", skip, "coordinator"), 409, "courses_grade_skip_out_of_order")
    assert await _count(w, GradeSkipDecision, grade_skip_id=uuid.UUID(skip)) == 1
    await _ok(await _decide(w, "staff", skip, "staff"))
    assert skip in await _queue(w, "admin")
    assert await _approved_events(w, w.ids["student"]) == []
    granted = await _ok(await _decide(w, "admin", skip, "admin"))
    assert (granted["status"], granted["waiting_for"]) == ("approved", None) and granted["decided_at"] is not None
    assert [(d["level"], d["outcome"]) for d in granted["decisions"]] == [("coordinator", "approved"), ("staff", "approved"), ("admin", "approved")]
    [event] = await _approved_events(w, w.ids["student"])
    assert (event.source, event.version) == ("courses", 1)
    GradeSkipApproved.model_validate(event.payload)
    assert event.payload == {"application_id": skip, "student_id": w.ids["student"], "from_grade": 9, "to_grade": 11,
                             "approved_at": event.payload["approved_at"]}
    assert event.payload["approved_at"].startswith(granted["decided_at"][:19])
    # Granted, it does not change.
    problem(await _decide(w, "admin", skip, "admin", "refused"), 409, "courses_application_decided")
    problem(await call(w, "student", "POST", f"/grade-skips/{skip}/withdraw"), 409, "courses_application_decided")
    assert len(await _approved_events(w, w.ids["student"])) == 1
    assert await _kinds(w, GradeSkip.__table__, skip) == [
        "grade_skip.applied", "grade_skip.advanced", "grade_skip.advanced", "grade_skip.approved"]
    assert await _kinds(w, GradeSkip.__table__, w.ids["grade_skip_student"]) == [
        "grade_skip.applied", "grade_skip.advanced", "grade_skip.withdrawn"]
    decisions = (await w.tx.session.execute(sa.select(GradeSkipDecision.id).where(GradeSkipDecision.grade_skip_id == uuid.UUID(skip)))).scalars()
    for decision in decisions:
        assert await _kinds(w, GradeSkipDecision.__table__, str(decision)) == ["grade_skip_decision.approved"]


async def test_a_grade_skip_refused_at_the_second_level_ends_there(w):
    skip = w.ids["grade_skip_child"]  # the guardian's, for the child (grade 5 to 6), waiting for the coordinator
    await _ok(await _decide(w, "coordinator", skip, "coordinator"))
    refused = await _ok(await _decide(w, "staff", skip, "staff", "refused"))
    assert (refused["status"], refused["waiting_for"]) == ("refused", None)
    assert [(d["level"], d["outcome"]) for d in refused["decisions"]] == [("coordinator", "approved"), ("staff", "refused")]
    seen = await _ok(await call(w, "guardian", "GET", f"/grade-skips/{skip}"))
    assert seen["decisions"][1]["reason"] == "The staff level finds the evidence sufficient."
    problem(await _decide(w, "admin", skip, "admin"), 409, "courses_application_decided")
    assert skip not in await _queue(w, "admin")
    assert await _approved_events(w, w.ids["child"]) == []
    assert await _count(w, GradeSkipDecision, grade_skip_id=uuid.UUID(skip)) == 2
    assert await _kinds(w, GradeSkip.__table__, skip) == ["grade_skip.applied", "grade_skip.advanced", "grade_skip.refused"]
    # Ended, the guardian may apply again.
    again = await _ok(await call(w, "guardian", "POST", "/grade-skips", json={"student_id": w.ids["child"], "to_grade": 7, **EVIDENCE}), 201)
    assert (again["applicant"], again["from_grade"]) == ("guardian", 5)


async def test_only_the_level_waiting_decides_and_a_coordinator_only_for_their_own_school(w):
    s = w.tx.session
    far = await _new_student(w, "school_b", 7)
    other_school = await applications.apply_grade_skip(s, far, GradeSkipIn(to_grade=8, **EVIDENCE))
    refused = problem(await _decide(w, "coordinator", str(other_school.id), "coordinator"), 403, "courses_grade_skip_wrong_school")
    assert far.id not in str(refused)
    assert str(other_school.id) not in await _queue(w, "coordinator")
    problem(await call(w, "coordinator", "GET", f"/grade-skips/{other_school.id}"), 404, "courses_grade_skip_not_found")
    skip = w.ids["grade_skip_child"]
    # A level is its role's: staff cannot decide as the coordinator, the coordinator not as staff.
    problem(await _decide(w, "staff", skip, "coordinator"), 403, "courses_grade_skip_level_not_yours")
    problem(await _decide(w, "coordinator", skip, "staff"), 403, "courses_grade_skip_level_not_yours")
    for who in ("student", "guardian", "mentor", "expert"):
        problem(await _decide(w, who, skip, "coordinator"), 403, "forbidden")
    problem(await _decide(w, "staff", str(uuid.uuid4()), "staff"), 404, "courses_grade_skip_not_found")
    for body in ({"level": "coordinator", "outcome": "approved", "reason": "x\u0000y"}, {"level": "coordinator", "outcome": "approved"},
                 {"level": "principal", "outcome": "approved", "reason": "The evidence holds."},
                 {"level": "coordinator", "outcome": "approved", "reason": "r" * 2001}):
        problem(await call(w, "coordinator", "POST", f"/grade-skips/{skip}/decisions", json=body), 422, "validation_failed")
    for found in (other_school.id, uuid.UUID(skip)):
        assert await _count(w, GradeSkipDecision, grade_skip_id=found) == 0
    assert (await _ok(await call(w, "coordinator", "GET", f"/grade-skips/{skip}")))["waiting_for"] == "coordinator"


@pytest.mark.parametrize("who, body, status, code", [
    ("student", {"to_grade": 9}, 422, "courses_grade_skip_not_above"),  # the student is in grade 9
    ("student", {"to_grade": 8}, 422, "courses_grade_skip_not_above"),
    ("student", {"to_grade": 13}, 422, "validation_failed"),
    ("student", {"to_grade": 0}, 422, "validation_failed"),
    ("student", {"to_grade": -10}, 422, "validation_failed"),
    ("student", {"to_grade": "10"}, 422, "validation_failed"),
    ("student", {"to_grade": 10, "from_grade": 1}, 422, "validation_failed"),
    ("student", {"to_grade": 10, "links": ["ftp://example.org/award"]}, 422, "validation_failed"),
    ("student", {"to_grade": 10, "evidence": "\u0000"}, 422, "validation_failed"),
    ("student", {"to_grade": 10, "evidence": "奖" * 2001}, 422, "validation_failed"),
    ("guardian", {"to_grade": 10, "student_id": "student"}, 404, "student_not_found"),  # someone else's child
    ("guardian", {"to_grade": 10, "student_id": "other_student"}, 404, "student_not_found"),
    ("student", {"to_grade": 10, "student_id": "child"}, 404, "student_not_found"),
    ("guardian", {"to_grade": 10}, 422, "courses_application_student_required"),
    ("student", {"to_grade": 10}, 409, "courses_application_open"),  # the world's application waits for staff
    ("guardian", {"to_grade": 8, "student_id": "child"}, 409, "courses_application_open"),
    ("coordinator", {"to_grade": 10, "student_id": "student"}, 403, "forbidden"),
    ("staff", {"to_grade": 10, "student_id": "student"}, 403, "forbidden"),
])
async def test_a_bad_grade_skip_application_names_its_rule_and_stores_nothing(w, who, body, status, code):
    body = {**EVIDENCE, **body}
    if "student_id" in body:
        body["student_id"] = w.ids[body["student_id"]]
    before = await _count(w, GradeSkip)
    problem(await call(w, who, "POST", "/grade-skips", json=body), status, code)
    assert await _count(w, GradeSkip) == before


async def test_a_grade_skip_needs_the_student_s_grade_in_the_directory(w):
    nameless = await _new_student(w, "school_a", None)
    with pytest.raises(ProblemError) as refused:
        await applications.apply_grade_skip(w.tx.session, nameless, GradeSkipIn(to_grade=5, **EVIDENCE))
    assert refused.value.code == "courses_grade_unknown"
    top = await _new_student(w, "school_a", 12)
    with pytest.raises(ProblemError) as refused:
        await applications.apply_grade_skip(w.tx.session, top, GradeSkipIn(to_grade=12, **EVIDENCE))
    assert refused.value.code == "courses_grade_skip_not_above"
    assert await _count(w, GradeSkip, student_id=uuid.UUID(nameless.id)) + await _count(w, GradeSkip, student_id=uuid.UUID(top.id)) == 0


async def test_a_withdrawn_grade_skip_is_decided_by_nobody(w):
    skip = w.ids["grade_skip_child"]
    problem(await call(w, "student", "POST", f"/grade-skips/{skip}/withdraw"), 404, "courses_grade_skip_not_found")
    withdrawn = await _ok(await call(w, "guardian", "POST", f"/grade-skips/{skip}/withdraw"))
    assert (withdrawn["status"], withdrawn["waiting_for"]) == ("withdrawn", None)
    assert (await _ok(await call(w, "guardian", "POST", f"/grade-skips/{skip}/withdraw")))["withdrawn_at"] == withdrawn["withdrawn_at"]
    problem(await _decide(w, "coordinator", skip, "coordinator"), 409, "courses_application_decided")
    assert skip not in await _queue(w, "coordinator")
    assert await _count(w, GradeSkipDecision, grade_skip_id=uuid.UUID(skip)) == 0
