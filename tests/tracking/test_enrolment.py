"""Enrolment: a student joins on admission, moves on a grade skip and with the school year, graduates after
grade 12, re-enters after an exit with the earlier history kept; every change has its reason, who and when;
redelivery changes nothing; bad input is refused with a stable code and nothing stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from services.tracking.enrolment.models import EnrolmentChange, SchoolYearAdvance
from tests.tracking.support import admitted, call, deliver, exit_student, grade_skip, items, later, new_student


async def _history(w, student: str) -> list[dict]:
    return await items(w, "staff", f"/enrolments/{student}/history")


async def test_an_admission_a_grade_skip_and_a_school_year_each_leave_a_change_with_its_reason_and_redelivery_none(w):
    student = await new_student(w)
    admission, skip = admitted(w, student, grade=8), grade_skip(student, 8, 10, at=later(30))
    await deliver(w, admission, skip)
    r = await call(w, "staff", "GET", f"/enrolments/{student}")
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("status", "grade", "stage", "cohort_year", "disciplines", "school_id")} == {
        "status": "active", "grade": 10, "stage": "high", "cohort_year": 2027, "disciplines": ["math"], "school_id": w.ids["school_a"]}
    r = await call(w, "staff", "POST", "/school-years/advance", json={"school_year": 2096})
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["advanced"] >= 1 and run["run_by"] == w.ids["staff"]
    await deliver(w, skip, admission, skip)  # redelivered, out of order: nothing changes
    history = await _history(w, student)
    assert [(h["kind"], h["from_grade"], h["to_grade"], h["from_stage"], h["to_stage"], h["actor"]) for h in history] == [
        ("admitted", None, 8, None, "middle", "selection"),
        ("grade_skipped", 8, 10, "middle", "high", "courses"),
        ("year_advanced", 10, 11, "high", "high", w.ids["staff"]),
    ]
    assert "2027 年选拔录取" in history[0]["reason"] and "8 年级 → 10 年级" in history[1]["reason"]
    assert history[2]["reason"] == "2096–2097 学年升级：10 年级 → 11 年级" and history[2]["school_year"] == 2096
    assert history[0]["event_id"] == str(admission.event_id) and history[2]["event_id"] is None

    # The same school year again: its run, nothing moves. An earlier one: refused, nothing stored.
    again = await call(w, "staff", "POST", "/school-years/advance", json={"school_year": 2096})
    assert again.status_code == 200 and again.json() == run
    assert (await call(w, "staff", "GET", f"/enrolments/{student}")).json()["grade"] == 11
    past = await call(w, "staff", "POST", "/school-years/advance", json={"school_year": 2095})
    assert past.status_code == 409 and past.json()["code"] == "tracking_school_year_past"
    assert past.headers["content-type"].startswith("application/problem+json")
    s = w.tx.session
    assert await s.get(SchoolYearAdvance, 2095) is None
    assert (await s.execute(select(func.count()).where(EnrolmentChange.school_year == 2095))).scalar_one() == 0
    assert len(await _history(w, student)) == 3


async def test_a_grade_12_student_graduates_and_the_next_year_leaves_them(w):
    student = await new_student(w, grade=12)
    await deliver(w, admitted(w, student, grade=12))
    assert (await call(w, "staff", "POST", "/school-years/advance", json={"school_year": 2097})).json()["graduated"] >= 1
    found = (await call(w, "staff", "GET", f"/enrolments/{student}")).json()
    assert (found["status"], found["grade"], found["stage"]) == ("graduated", 12, "high")
    await call(w, "staff", "POST", "/school-years/advance", json={"school_year": 2098})
    history = await _history(w, student)
    assert [(h["kind"], h["from_status"], h["to_status"]) for h in history] == [
        ("admitted", None, "active"), ("graduated", "active", "graduated")]
    assert "高中毕业" in history[1]["reason"]
    # Filtered by status.
    assert student in {e["student_id"] for e in await items(w, "staff", "/enrolments", status="graduated")}
    assert student not in {e["student_id"] for e in await items(w, "staff", "/enrolments", status="active")}


async def test_a_student_who_exited_re_enters_through_a_later_campaign_with_the_earlier_history_kept(w):
    student = await new_student(w)
    first = admitted(w, student, grade=7)
    await deliver(w, first, grade_skip(student, 7, 8, at=later(10)))
    await exit_student(w, student, later(100))
    exited = (await call(w, "staff", "GET", f"/enrolments/{student}")).json()
    assert (exited["status"], exited["exit_reason"]) == ("exited", "voluntary")
    # An admission from before the exit, delivered late, and a grade skip while out: nothing moves.
    await deliver(w, admitted(w, student, at=later(50), grade=8), grade_skip(student, 8, 9, at=later(120)))
    assert (await call(w, "staff", "GET", f"/enrolments/{student}")).json()["status"] == "exited"
    # A later campaign admits them again, in another discipline and cohort.
    await deliver(w, admitted(w, student, at=later(400), grade=9, discipline="physics", cohort_year=2028))
    back = (await call(w, "staff", "GET", f"/enrolments/{student}")).json()
    assert {k: back[k] for k in ("status", "cohort_year", "disciplines", "grade", "exit_reason", "exited_at")} == {
        "status": "active", "cohort_year": 2028, "disciplines": ["physics"], "grade": 9, "exit_reason": None, "exited_at": None}
    assert datetime.fromisoformat(back["first_admitted_at"]) == first.payload.decided_at < datetime.fromisoformat(back["entered_at"])
    assert [h["kind"] for h in await _history(w, student)] == ["admitted", "grade_skipped", "re_entered"]
    assert (await _history(w, student))[2]["from_status"] == "exited"


async def test_a_second_discipline_is_added_and_a_grade_skip_below_the_grade_leaves_it(w):
    student = await new_student(w)
    await deliver(w, admitted(w, student, grade=9), admitted(w, student, at=later(1), grade=9, discipline="chemistry"),
                  admitted(w, student, at=later(2), grade=9))  # math again: nothing
    await call(w, "staff", "POST", "/school-years/advance", json={"school_year": 2099})  # grade 10 now
    await deliver(w, grade_skip(student, 9, 10, at=datetime.now(UTC) + timedelta(minutes=1)))  # applied in grade 9, approved after the year moved on
    found = (await call(w, "staff", "GET", f"/enrolments/{student}")).json()
    assert found["disciplines"] == ["math", "chemistry"] and found["grade"] == 10
    history = await _history(w, student)
    assert [h["kind"] for h in history] == ["admitted", "discipline_added", "year_advanced", "grade_skipped"]
    assert "年级不变" in history[-1]["reason"]
    assert student in {e["student_id"] for e in await items(w, "staff", "/enrolments", discipline="chemistry", stage="high")}
    # A grade skip of a student tracking never enrolled: no enrolment appears.
    outsider = await new_student(w)
    await deliver(w, grade_skip(outsider, 5, 6, at=later(3)))
    assert (await call(w, "staff", "GET", f"/enrolments/{outsider}")).status_code == 404


async def test_the_list_filters_by_cohort_discipline_stage_status_and_school(w):
    a, b = await new_student(w), await new_student(w, school="school_b")
    await deliver(w, admitted(w, a, grade=4, cohort_year=2031), admitted(w, b, grade=11, cohort_year=2031, discipline="biology", school="school_b"))

    async def listed(**params) -> set[str]:
        return {e["student_id"] for e in await items(w, "staff", "/enrolments", cohort_year=2031, **params)}

    assert await listed() == {a, b}
    assert await listed(stage="primary") == {a}
    assert await listed(discipline="biology") == {b}
    assert await listed(school_id=w.ids["school_b"]) == {b}
    assert await listed(status="on_probation") == set()
    # Pages follow each other without repeating.
    r = await call(w, "staff", "GET", "/enrolments", params={"cohort_year": 2031, "limit": 1})
    nxt = await call(w, "staff", "GET", "/enrolments", params={"cohort_year": 2031, "limit": 1, "cursor": r.json()["next_cursor"]})
    assert {r.json()["items"][0]["student_id"], nxt.json()["items"][0]["student_id"]} == {a, b}


async def test_each_role_lists_only_its_rows_and_someone_elses_id_is_404(w):
    ours, other, mentee = await new_student(w), await new_student(w, school="school_b"), await new_student(w, school="school_b")
    from tests.tracking.support import assigned, ended

    pair = assigned(mentee, w.ids["mentor"], at=later(5))
    await deliver(w, *(admitted(w, s, cohort_year=2032, school=sc) for s, sc in ((ours, "school_a"), (other, "school_b"), (mentee, "school_b"))),
                  pair)

    async def listed(who: str) -> set[str]:
        return {e["student_id"] for e in await items(w, who, "/enrolments")}

    world = {w.ids[n] for n in ("student", "child", "other_student")}
    assert {ours, other, mentee} | world <= await listed("staff")
    assert {ours, other, mentee} | world <= await listed("admin")
    assert await listed("coordinator") == {ours, w.ids["student"], w.ids["child"]}
    assert await listed("mentor") == {mentee, w.ids["student"]}
    assert await listed("guardian") == {w.ids["child"]}
    assert await listed("student") == {w.ids["student"]}
    for who, student in (("coordinator", other), ("mentor", ours), ("guardian", ours), ("student", ours)):
        r = await call(w, who, "GET", f"/enrolments/{student}")
        assert r.status_code == 404 and r.json()["code"] == "tracking_enrolment_not_found", (who, r.text)
    assert (await call(w, "mentor", "GET", f"/enrolments/{mentee}")).status_code == 200
    # The mentorship ends: the mentor reads the student no more.
    await deliver(w, ended(pair, at=later(60)))
    assert (await call(w, "mentor", "GET", f"/enrolments/{mentee}")).status_code == 404
    assert await listed("mentor") == {w.ids["student"]}
    # Unknown to everyone, staff too; the expert may not read enrolments at all.
    assert (await call(w, "staff", "GET", f"/enrolments/{uuid.uuid4()}")).status_code == 404
    assert (await call(w, "expert", "GET", "/enrolments")).status_code == 403
    assert (await call(w, "coordinator", "POST", "/school-years/advance", json={"school_year": 2099})).status_code == 403


async def test_hostile_input_is_refused_with_problems_and_stores_nothing(w):
    s = w.tx.session
    before = (await s.execute(select(func.count()).select_from(SchoolYearAdvance))).scalar_one()
    for params in ({"limit": 10**9}, {"limit": 0}, {"cohort_year": "2027; DROP TABLE"}, {"cohort_year": 1}, {"stage": "university"},
                   {"status": "expelled"}, {"discipline": "\x00"}, {"school_id": "not-a-uuid"}, {"cursor": "garbage"}):
        r = await call(w, "staff", "GET", "/enrolments", params=params)
        assert r.status_code in (400, 422), (params, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json") and r.json()["code"], params
    # A filter the list does not know is ignored, as every list of the API ignores it.
    assert (await call(w, "staff", "GET", "/enrolments", params={"colour": "red"})).status_code == 200
    for path in ("/enrolments/not-a-uuid", "/enrolments/%00/history", "/students/1234/timeline"):
        r = await call(w, "staff", "GET", path)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", (path, r.text)
    for body in ({"school_year": "2027"}, {"school_year": 1999}, {"school_year": 2101}, {"school_year": 2027.5}, {}, {"school_year": 2027, "x": 1},
                 {"school_year": None}, [2027]):
        r = await call(w, "staff", "POST", "/school-years/advance", json=body)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", (body, r.text)
    r = await w.clients["tracking"].post("/school-years/advance", content=b'{"school_year": "\\u0000"}', headers={
        **w.caller("staff").headers, "Content-Type": "application/json"})
    assert r.status_code == 422
    assert (await s.execute(select(func.count()).select_from(SchoolYearAdvance))).scalar_one() == before
