"""Attendance and final results: the section's teacher (or staff) takes attendance of a meeting
that has started, once, however often the same body is sent; a final result after the first
meeting, a pass completing the course once (one `courses.course.completed`) and meeting the
prerequisite of the next course; corrections with their reason, on the chain, a completed one
by staff only and never from under a registration that relies on it; exam and course
exemptions shown or refused; every refusal naming its rule and storing nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from services.courses.applications import service as applications
from services.courses.applications.models import Outcome
from services.courses.applications.schemas import ExemptionIn
from services.courses.db import chain
from services.courses.models import Completion, CompletionBasis, SectionMeeting
from services.courses.registration import service as registration
from services.courses.registration.models import Registration, RegistrationStatus
from services.courses.results.models import Attendance, Result
from shared import clock
from shared.events.models import Event
from shared.tokens import Principal
from tests.courses.support import call, new_course, new_section, new_term, window_in
from tests.courses.test_registration import _events, _register, _student, service_principal
from tests.selection.support import problem

COMPLETED = "courses.course.completed"


async def _taught(w, *, starts_in: timedelta = timedelta(days=-1), teacher: str | None = "mentor", students: int = 2,
                  course: Any = None) -> tuple[Any, list[SectionMeeting], list[str]]:
    """A section of a new term (its window open) meeting weekly from `starts_in`, three times,
    taught by `teacher` (a person of the world), with `students` new students confirmed."""
    s, now = w.tx.session, clock.now()
    term = await new_term(s)
    await registration.create_window(s, service_principal(w), window_in(term.id, opens=now - timedelta(days=30), closes=now + timedelta(days=30)))
    section = await new_section(s, term, course or await new_course(s), starts=now + starts_in, meetings=3,
                                teacher_id=uuid.UUID(w.ids[teacher]) if teacher else None)
    seated = []
    for _ in range(students):
        student = await _student(w)
        row, _ = await registration.register(s, service_principal(w), section.id, uuid.UUID(student))
        assert row.status.value == "confirmed"
        seated.append(student)
    meetings = list((await s.execute(sa.select(SectionMeeting).where(SectionMeeting.section_id == section.id)
                                     .order_by(SectionMeeting.starts_at))).scalars())
    return section, meetings, seated


def _attendance_path(section: Any, meeting: Any) -> str:
    return f"/sections/{section.id}/meetings/{meeting.id}/attendance"


async def _put_attendance(w, who: str, section: Any, meeting: Any, entries: list[tuple[str, str]]):
    return await call(w, who, "PUT", _attendance_path(section, meeting),
                      json={"students": [{"student_id": s, "status": st} for s, st in entries]})


async def _put_result(w, who: str, section: Any, student: str, **body: Any):
    return await call(w, who, "PUT", f"/sections/{section.id}/results/{student}", json=body)


async def _ok(r, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


async def _head(w) -> int:
    head = await chain.head(w.tx.session)
    return head.seq if head else 0


async def _stored(w) -> tuple[int, ...]:
    """What a refusal must leave as it was: attendance, results, completions, events, the chain."""
    s = w.tx.session
    counts = [(await s.execute(sa.select(sa.func.count()).select_from(m))).scalar_one() for m in (Attendance, Result, Completion, Event)]
    return (*counts, await _head(w))


async def _kinds(w, table, row_id: Any) -> list[str]:
    return [e.kind for e in await chain.entries(w.tx.session, table=table, row_id=row_id)]


async def _completion(w, student: str, course_id: Any) -> Completion | None:
    return (await w.tx.session.execute(sa.select(Completion).where(
        Completion.student_id == uuid.UUID(student), Completion.course_id == course_id).execution_options(populate_existing=True))).scalar_one_or_none()


async def _verified(w) -> None:
    report = await _ok(await call(w, "admin", "GET", "/record/verify"))
    assert report["ok"] is True, report


# ---------------------------------------------------------------- attendance


async def test_the_teacher_takes_attendance_of_a_started_meeting_and_the_same_body_again_changes_nothing(w):
    with clock.use_clock(clock.FrozenClock()):
        section, meetings, (first, second) = await _taught(w)
        body = [(first, "present"), (second, "late")]
        rows = await _ok(await _put_attendance(w, "mentor", section, meetings[0], body))
        assert [(r["student_id"], r["status"], r["meeting_id"]) for r in rows] == [(first, "present", str(meetings[0].id)),
                                                                                   (second, "late", str(meetings[0].id))]
        assert rows[0]["meeting_starts_at"] is not None and rows[0]["display_name"] == "学生"
        before = await _stored(w)
        again = await _ok(await _put_attendance(w, "mentor", section, meetings[0], body))
        assert [r["id"] for r in again] == [r["id"] for r in rows] and await _stored(w) == before
        # Staff correct one student; the other keeps theirs (an upsert, not a replacement).
        changed = await _ok(await _put_attendance(w, "staff", section, meetings[0], [(second, "excused")]))
        assert [(r["id"], r["status"]) for r in changed] == [(rows[1]["id"], "excused")]
        assert await _kinds(w, Attendance.__table__, rows[0]["id"]) == ["attendance.recorded"]
        assert await _kinds(w, Attendance.__table__, rows[1]["id"]) == ["attendance.recorded", "attendance.changed"]
        listed = await _ok(await call(w, "mentor", "GET", f"/sections/{section.id}/attendance", params={"limit": 1}))
        assert len(listed["items"]) == 1 and listed["next_cursor"]
        rest = await _ok(await call(w, "mentor", "GET", f"/sections/{section.id}/attendance", params={"cursor": listed["next_cursor"]}))
        assert {x["status"] for x in [*listed["items"], *rest["items"]]} == {"present", "excused"} and rest["next_cursor"] is None
        # Lists of a student's own, through the directory's scoping: the world's student has none here.
        assert (await _ok(await call(w, "staff", "GET", "/attendance", params={"student_id": first})))["items"][0]["id"] == rows[0]["id"]
        assert (await _ok(await call(w, "student", "GET", "/attendance", params={"section_id": str(section.id)})))["items"] == []
        await _verified(w)


async def test_each_attendance_refusal_names_its_rule_and_stores_nothing(w):
    with clock.use_clock(clock.FrozenClock()):
        section, meetings, (seated, _) = await _taught(w)
        others, other_meetings, _ = await _taught(w, teacher="staff", students=1)
        stranger = await _student(w)  # in the programme, not in the section
        before = await _stored(w)

        async def refused(r, status: int, code: str) -> dict:
            body = problem(r, status, code)
            assert await _stored(w) == before
            return body

        await refused(await _put_attendance(w, "mentor", others, other_meetings[0], [(seated, "present")]), 403, "courses_not_section_teacher")
        await refused(await _put_attendance(w, "coordinator", section, meetings[0], [(seated, "present")]), 403, "courses_not_section_teacher")
        await refused(await _put_attendance(w, "student", section, meetings[0], [(seated, "present")]), 403, "forbidden")
        await refused(await _put_attendance(w, "mentor", section, meetings[0], [(stranger, "present")]), 422, "courses_student_not_in_section")
        await refused(await _put_attendance(w, "mentor", section, meetings[0], [(seated, "present"), (stranger, "absent")]),
                      422, "courses_student_not_in_section")
        await refused(await _put_attendance(w, "mentor", section, other_meetings[0], [(seated, "present")]), 404, "courses_meeting_not_found")
        await refused(await call(w, "mentor", "PUT", f"/sections/{section.id}/meetings/{uuid.uuid4()}/attendance",
                                 json={"students": [{"student_id": seated, "status": "present"}]}), 404, "courses_meeting_not_found")
        await refused(await call(w, "mentor", "PUT", f"/sections/{uuid.uuid4()}/meetings/{meetings[0].id}/attendance",
                                 json={"students": [{"student_id": seated, "status": "present"}]}), 404, "courses_section_not_found")
        body = await refused(await _put_attendance(w, "mentor", section, meetings[1], [(seated, "present")]), 409, "courses_meeting_not_started")
        assert meetings[1].starts_at.isoformat() in body["detail"]
        await refused(await _put_attendance(w, "mentor", section, meetings[0], [(seated, "asleep")]), 422, "courses_attendance_status_unknown")
        await refused(await _put_attendance(w, "mentor", section, meetings[0], [(seated, "present"), (seated, "late")]),
                      422, "courses_attendance_student_repeated")
        for bad in ("pres\u0000ent", "x" * 100_000):
            await refused(await _put_attendance(w, "mentor", section, meetings[0], [(seated, bad)]), 422, "validation_failed")
        await refused(await call(w, "mentor", "PUT", _attendance_path(section, meetings[0]), json={"students": []}), 422, "validation_failed")
        await refused(await call(w, "mentor", "PUT", _attendance_path(section, meetings[0]), json={"students": [{"student_id": "me", "status": "late"}]}),
                      422, "validation_failed")
        # A student who dropped is no longer the section's.
        [seat] = (await w.tx.session.execute(sa.select(Registration).where(Registration.student_id == uuid.UUID(seated)))).scalars()
        seat.status = RegistrationStatus.dropped
        await w.tx.session.flush()
        problem(await _put_attendance(w, "mentor", section, meetings[0], [(seated, "present")]), 422, "courses_student_not_in_section")


async def test_meetings_that_hold_attendance_are_not_replaced(w):
    s, section_id = w.tx.session, uuid.UUID(w.ids["section_base"])
    first = (await s.execute(sa.select(SectionMeeting).where(SectionMeeting.section_id == section_id)
                             .order_by(SectionMeeting.starts_at).limit(1))).scalar_one()
    taken = Attendance(meeting_id=first.id, section_id=section_id, student_id=uuid.UUID(w.ids["student"]), status="present",
                       recorded_by=w.ids["staff"], recorded_at=clock.now())
    s.add(taken)
    await s.flush()
    await chain.append(s, kind="attendance.recorded", table=Attendance.__table__, row_id=taken.id, actor="tests")
    weekly = {"block_id": w.ids["term_weekends"], "weekday": "sunday", "starts": "13:00", "ends": "15:00"}
    r = await w.clients["courses"].put(f"/sections/{section_id}/meetings", json={"weekly": [weekly]},
                                       headers={**w.caller("staff").headers, "If-Match": "*"})
    problem(r, 409, "courses_meetings_attended")
    assert await s.get(SectionMeeting, first.id, populate_existing=True) is not None
    await _verified(w)


# ---------------------------------------------------------------- results


async def test_a_pass_completes_the_course_publishes_once_and_meets_the_next_courses_prerequisite(w):
    s = w.tx.session
    with clock.use_clock(clock.FrozenClock()) as moved:
        basic = await new_course(s)
        section, _, (student, other) = await _taught(w, course=basic)
        extended = await new_course(s, prerequisites=[basic.id])
        follow_on, _, _ = await _taught(w, starts_in=timedelta(days=60), students=0, course=extended)
        problem(await _register(w, "staff", follow_on.id, student), 422, "courses_prerequisite_missing")

        passed = await _ok(await _put_result(w, "mentor", section, student, grade=85.5))
        assert (passed["outcome"], Decimal(passed["grade"]), passed["completed"], passed["exam_waived"]) == ("pass", Decimal("85.5"), True, False)
        done = await _completion(w, student, basic.id)
        assert (done.basis, done.section_id, done.grade) == (CompletionBasis.result, section.id, Decimal("85.50"))
        [event] = await _events(w, COMPLETED, student)
        assert {k: event.payload[k] for k in ("student_id", "course_id", "section_id", "term_id", "outcome")} == {
            "student_id": student, "course_id": str(basic.id), "section_id": str(section.id), "term_id": str(section.term_id), "outcome": "pass"}
        assert Decimal(event.payload["grade"]) == Decimal("85.5") and event.payload["completed_at"]
        # The same result again, however spelled: nothing written, nothing published.
        before = await _stored(w)
        for same in ({"grade": 85.5}, {"grade": "85.50"}, {"grade": 85.5, "outcome": "pass"}):
            assert (await _ok(await _put_result(w, "mentor", section, student, **same)))["id"] == passed["id"]
        assert await _stored(w) == before and len(await _events(w, COMPLETED, student)) == 1

        # A fail completes nothing and announces nothing; outcome alone is a result too.
        moved.advance(seconds=1)
        failed = await _ok(await _put_result(w, "staff", section, other, outcome="fail"))
        assert (failed["outcome"], failed["grade"], failed["completed"]) == ("fail", None, False)
        assert await _completion(w, other, basic.id) is None and await _events(w, COMPLETED, other) == []

        # The completion is the prerequisite met.
        r = await _register(w, "staff", follow_on.id, student)
        assert r.status_code == 201 and r.json()["status"] == "confirmed", r.text
        problem(await _register(w, "staff", follow_on.id, other), 422, "courses_prerequisite_missing")

        listed = await _ok(await call(w, "mentor", "GET", f"/sections/{section.id}/results"))
        assert [(x["student_id"], x["outcome"]) for x in listed["items"]] == [(student, "pass"), (other, "fail")]
        mine = await _ok(await call(w, "staff", "GET", "/results", params={"student_id": student}))
        assert [x["id"] for x in mine["items"]] == [passed["id"]]
        assert await _kinds(w, Result.__table__, passed["id"]) == ["result.recorded"]
        assert await _kinds(w, Completion.__table__, done.id) == ["completion.result"]
        await _verified(w)


async def test_each_result_refusal_names_its_rule_and_stores_nothing(w):
    with clock.use_clock(clock.FrozenClock()) as moved:
        section, _, (student, _) = await _taught(w, starts_in=timedelta(days=2))
        others, _, (theirs,) = await _taught(w, teacher="staff", students=1)
        stranger = await _student(w)
        before = await _stored(w)

        async def refused(r, status: int, code: str) -> dict:
            body = problem(r, status, code)
            assert await _stored(w) == before
            return body

        await refused(await _put_result(w, "mentor", section, student, outcome="pass"), 409, "courses_section_not_started")
        moved.advance(days=2)
        await refused(await _put_result(w, "mentor", others, theirs, outcome="pass"), 403, "courses_not_section_teacher")
        await refused(await _put_result(w, "coordinator", section, student, outcome="pass"), 403, "courses_not_section_teacher")
        for role in ("student", "guardian", "admin", "expert", "partner"):
            await refused(await _put_result(w, role, section, student, outcome="pass"), 403, "forbidden")
        await refused(await _put_result(w, "mentor", section, stranger, outcome="pass"), 422, "courses_student_not_in_section")
        await refused(await _put_result(w, "mentor", section, theirs, outcome="pass"), 422, "courses_student_not_in_section")
        await refused(await _put_result(w, "mentor", section, student), 422, "courses_result_invalid")
        body = await refused(await _put_result(w, "mentor", section, student, grade=40, outcome="pass"), 422, "courses_result_invalid")
        assert "fail" in body["detail"]
        for grade in (101, -1, 100.001, 50.123, "NaN", "Infinity", "1e400", "9" * 5000, "sixty", True, [60]):
            await refused(await _put_result(w, "mentor", section, student, grade=grade), 422, "validation_failed")
        await refused(await _put_result(w, "mentor", section, student, outcome="passed"), 422, "validation_failed")
        await refused(await _put_result(w, "mentor", section, student, outcome="pass", reason="re\u0000ason"), 422, "validation_failed")
        await refused(await _put_result(w, "mentor", section, student, outcome="pass", reason="x" * 100_000), 422, "validation_failed")
        await refused(await _put_result(w, "mentor", section, student, outcome="pass", note="extra"), 422, "validation_failed")
        await refused(await call(w, "mentor", "PUT", f"/sections/{section.id}/results/not-a-uuid", json={"outcome": "pass"}),
                      422, "validation_failed")
        # The boundaries are results: 0 fails, 60 passes, 100 passes.
        assert (await _ok(await _put_result(w, "mentor", section, student, grade=0)))["outcome"] == "fail"


async def test_corrections_need_a_reason_a_completed_result_is_staffs_and_never_withdrawn_from_under_a_registration(w):
    s = w.tx.session
    with clock.use_clock(clock.FrozenClock()):
        basic = await new_course(s)
        section, _, (student, _) = await _taught(w, course=basic)
        follow_on, _, _ = await _taught(w, starts_in=timedelta(days=60), students=0, course=await new_course(s, prerequisites=[basic.id]))
        first = await _ok(await _put_result(w, "mentor", section, student, grade=40))
        assert (first["outcome"], first["corrections"]) == ("fail", 0)
        before = await _stored(w)
        problem(await _put_result(w, "mentor", section, student, grade=72), 422, "courses_result_reason_required")
        assert await _stored(w) == before
        # A fail corrected to a pass by the teacher: the course is completed and announced.
        passed = await _ok(await _put_result(w, "mentor", section, student, grade=72, reason="The second marker's sheet was missed."))
        assert (passed["id"], passed["outcome"], passed["corrections"], passed["completed"]) == (first["id"], "pass", 1, True)
        assert passed["correction_reason"] == "The second marker's sheet was missed."
        assert len(await _events(w, COMPLETED, student)) == 1
        # Completed, the teacher corrects it no more; staff do.
        before = await _stored(w)
        problem(await _put_result(w, "mentor", section, student, grade=90, reason="Re-marked."), 409, "courses_result_completed")
        assert await _stored(w) == before
        await _ok(await _put_result(w, "staff", section, student, grade=90, reason="Re-marked by the panel."))
        assert (await _completion(w, student, basic.id)).grade == Decimal("90.00")
        events = await _events(w, COMPLETED, student)
        assert [(e.payload["outcome"], Decimal(e.payload["grade"])) for e in events] == [("pass", Decimal("72")), ("pass", Decimal("90"))]
        # A registration relies on it: not withdrawn.
        seat = await _ok(await _register(w, "staff", follow_on.id, student), 201)
        before = await _stored(w)
        body = problem(await _put_result(w, "staff", section, student, outcome="fail", reason="Plagiarism found in the project."),
                       409, "courses_completion_in_use")
        assert str(follow_on.id) in body["detail"] and await _stored(w) == before
        await _ok(await call(w, "staff", "POST", f"/registrations/{seat['id']}/drop"))
        completion_id = (await _completion(w, student, basic.id)).id
        failed = await _ok(await _put_result(w, "staff", section, student, outcome="fail", reason="Plagiarism found in the project."))
        assert (failed["outcome"], failed["grade"], failed["completed"], failed["corrections"]) == ("fail", None, False, 3)
        assert await _completion(w, student, basic.id) is None
        assert [e.payload["outcome"] for e in await _events(w, COMPLETED, student)] == ["pass", "pass", "fail"]
        problem(await _register(w, "staff", follow_on.id, student), 422, "courses_prerequisite_missing")
        assert await _kinds(w, Result.__table__, first["id"]) == ["result.recorded", "result.corrected", "result.corrected", "result.corrected"]
        assert await _kinds(w, Completion.__table__, completion_id) == ["completion.result", "completion.corrected", "completion.withdrawn"]
        await _verified(w)


async def test_an_exam_waiver_shows_on_the_result_and_a_course_exemption_takes_no_result(w):
    s = w.tx.session
    with clock.use_clock(clock.FrozenClock()):
        section, _, (waived, exempted) = await _taught(w)
        staff = service_principal(w)
        evidence = dict(evidence_kind="competition_award", evidence="2026 全国中学生数学奥林匹克竞赛（福建赛区）一等奖", links=[])
        for student, kind in ((waived, "exam"), (exempted, "course")):
            applied = await applications.apply_exemption(s, Principal(id=student, kind="user", roles=frozenset({"student"})), ExemptionIn(
                course_id=section.course_id, kind=kind, section_id=section.id if kind == "exam" else None, **evidence))
            await applications.decide_exemption(s, staff, applied.id, Outcome.approved, "The national award covers it.")
        result = await _ok(await _put_result(w, "mentor", section, waived, grade=78))
        assert (result["exam_waived"], result["outcome"]) == (True, "pass")
        before = await _stored(w)
        problem(await _put_result(w, "mentor", section, exempted, outcome="pass"), 409, "courses_course_exempted")
        assert await _stored(w) == before
        assert (await _completion(w, exempted, section.course_id)).basis is CompletionBasis.exemption
        await _verified(w)


async def test_a_student_and_their_guardian_see_the_childs_results_and_no_one_elses(w):
    with clock.use_clock(clock.FrozenClock()):
        section, _, (student, _) = await _taught(w)
        s = w.tx.session
        await registration.register(s, service_principal(w), section.id, uuid.UUID(w.ids["child"]))
        mine = await _ok(await _put_result(w, "mentor", section, w.ids["child"], outcome="pass"))
        await _ok(await _put_result(w, "mentor", section, student, outcome="fail"))
        for who in ("guardian", "coordinator"):
            seen = await _ok(await call(w, who, "GET", "/results", params={"section_id": str(section.id)}))
            assert {x["id"] for x in seen["items"]} >= {mine["id"]}
        childs = (await _ok(await call(w, "guardian", "GET", "/results")))["items"]
        assert {x["student_id"] for x in childs} == {w.ids["child"]} and childs[0]["id"] == mine["id"]  # latest first
        assert (await _ok(await call(w, "student", "GET", "/results", params={"section_id": str(section.id)})))["items"] == []
        assert (await call(w, "guardian", "GET", f"/sections/{section.id}/results")).status_code == 403
