"""The timeline: one ordered history per student from every service's events and tracking's own changes;
every event delivered twice in a shuffled order gives the same timelines as once in order; each reader
sees only the timelines of the students they may see."""

from __future__ import annotations

import random
import uuid

from tests.tracking.support import (
    admitted, assigned, call, completed, deliver, defense, ended, grade_skip, items, later, new_student, seat,
)


async def _timeline(w, who: str, student: str) -> list[dict]:
    return await items(w, who, f"/students/{student}/timeline")


def _story(w, first: str, second: str) -> list:
    """Two students' events across three services, in the order they were published."""
    pair = assigned(first, w.ids["mentor"], at=later(20))
    return [
        admitted(w, first, grade=8), admitted(w, second, at=later(0, hours=1), grade=10, school="school_b"),
        pair, assigned(second, w.ids["mentor"], at=later(20), kind="life"),
        seat(first, at=later(40)), seat(first, at=later(45), dropped=True),
        grade_skip(first, 8, 10, at=later(90)),
        defense([first, second], at=later(150)),
        ended(pair, at=later(200), reason="rematch_request"),
    ]


async def test_a_students_timeline_reads_in_the_order_things_happened_with_kind_summary_source_and_refs(w):
    student, peer = await new_student(w), await new_student(w, school="school_b")
    story = _story(w, student, peer)
    await deliver(w, *reversed(story))  # arriving in the opposite order changes nothing of the order read
    await deliver(w, *(e for e in story if e.type == "selection.candidate.admitted"))  # the enrolment consumer needs the admission first
    await deliver(w, story[6])
    r = await call(w, "staff", "POST", "/school-years/advance", json={"school_year": 2094})
    assert r.status_code == 201, r.text
    found = await _timeline(w, "staff", student)
    assert [(e["kind"], e["source"]) for e in found] == [
        ("selection.candidate.admitted", "selection"), ("mentoring.mentor.assigned", "mentoring"),
        ("courses.registration.confirmed", "courses"), ("courses.registration.dropped", "courses"),
        ("courses.grade_skip.approved", "courses"), ("mentoring.defense.completed", "mentoring"),
        ("mentoring.mentorship.ended", "mentoring"), ("tracking.enrolment.year_advanced", "tracking"),
    ]
    summaries = [e["summary"] for e in found]
    assert summaries[0] == "入选数学方向（2027 级，8 年级）" and summaries[1] == "分配实验室导师（数学）"
    assert summaries[4] == "跳级获批：8 年级 → 10 年级" and summaries[5] == "数学项目答辩通过（86.5 分）"
    assert summaries[6] == "实验室导师（数学）指导结束（经申请重新匹配）" and summaries[7] == "2094–2095 学年升级：10 年级 → 11 年级"
    assert found[0]["event_id"] == str(story[0].event_id)
    assert found[0]["refs"] == {"campaign_id": str(story[0].payload.campaign_id), "candidate_id": str(story[0].payload.candidate_id),
                                "school_id": w.ids["school_a"]}
    assert set(found[5]["refs"]) == {"defense_id", "project_id"} and found[6]["refs"]["mentor_id"] == w.ids["mentor"]
    # The defense is on both students' timelines; the peer's life mentor too.
    assert [e["kind"] for e in await _timeline(w, "staff", peer)] == [
        "selection.candidate.admitted", "mentoring.mentor.assigned", "mentoring.defense.completed", "tracking.enrolment.year_advanced"]
    # Pages follow the same order.
    first = await call(w, "staff", "GET", f"/students/{student}/timeline", params={"limit": 3})
    rest = await call(w, "staff", "GET", f"/students/{student}/timeline", params={"limit": 200, "cursor": first.json()["next_cursor"]})
    assert [e["event_id"] for e in first.json()["items"] + rest.json()["items"]] == [e["event_id"] for e in found]


async def _snapshot(w, students: list[str]) -> dict:
    """Everything a reader sees of the students: timelines, enrolments and histories (without the random and the now)."""
    got = {}
    for s in students:
        enrolment = (await call(w, "staff", "GET", f"/enrolments/{s}")).json()
        enrolment.pop("updated_at", None)
        history = [{k: v for k, v in h.items() if k != "id"} for h in await items(w, "staff", f"/enrolments/{s}/history")]
        got[s] = {"timeline": await _timeline(w, "staff", s), "enrolment": enrolment, "history": history,
                  "mentor_sees": (await call(w, "mentor", "GET", f"/enrolments/{s}")).status_code}
    return got


def _shuffled_twice(events: list, seed: int) -> list:
    """Every event twice, the subjects interleaved at random; each subject's own events in the order
    published (as the event table hands one subject's events to a consumer)."""
    rng = random.Random(seed)
    by_subject: dict[str, list] = {}
    for e in events + events:
        by_subject.setdefault(e.subject, []).append(e)
    out = []
    while by_subject:
        subject = rng.choice(sorted(by_subject))
        out.append(by_subject[subject].pop(0))
        if not by_subject[subject]:
            del by_subject[subject]
    return out


async def test_every_event_twice_in_a_shuffled_order_gives_the_same_timelines_as_once_in_order(w):
    first, second = await new_student(w), await new_student(w, school="school_b")
    story = _story(w, first, second)
    s = w.tx.session
    once = await s.begin_nested()
    await deliver(w, *story)
    expected = await _snapshot(w, [first, second])
    await once.rollback()
    assert len(expected[first]["timeline"]) == 7 and expected[first]["enrolment"]["grade"] == 10
    for seed in (1, 2, 3):
        run = await s.begin_nested()
        order = _shuffled_twice(story, seed)
        assert [e.event_id for e in order] != [e.event_id for e in story + story]
        await deliver(w, *order)
        assert await _snapshot(w, [first, second]) == expected, seed
        await run.rollback()


async def test_each_reader_sees_only_the_timelines_of_their_students_and_another_is_404(w):
    ours, theirs = await new_student(w), await new_student(w, school="school_b")
    await deliver(w, admitted(w, ours), admitted(w, theirs, school="school_b"), assigned(theirs, w.ids["mentor"], at=later(3)))
    readers = {"admin": {ours, theirs}, "staff": {ours, theirs}, "coordinator": {ours}, "mentor": {theirs}, "guardian": set(), "student": set()}
    for who, sees in readers.items():
        for student in (ours, theirs):
            r = await call(w, who, "GET", f"/students/{student}/timeline")
            if student in sees:
                assert r.status_code == 200 and len(r.json()["items"]) >= 1, (who, r.text)
            else:
                assert r.status_code == 404 and r.json()["code"] == "student_not_found", (who, r.text)
    assert [e["kind"] for e in await _timeline(w, "guardian", w.ids["child"])] == ["selection.candidate.admitted"]
    assert (await call(w, "guardian", "GET", f"/students/{w.ids['student']}/timeline")).status_code == 404
    assert (await call(w, "staff", "GET", f"/students/{uuid.uuid4()}/timeline")).status_code == 404
    for who in ("expert", "partner", "service"):
        assert (await call(w, who, "GET", f"/students/{ours}/timeline")).status_code == 403
    for params in ({"limit": 10**6}, {"cursor": "\x00"}, {"cursor": "x" * 5000}):
        r = await call(w, "staff", "GET", f"/students/{ours}/timeline", params=params)
        assert r.status_code in (400, 422) and r.headers["content-type"].startswith("application/problem+json"), (params, r.text)


async def test_a_course_completed_and_a_correction_withdrawing_it_are_both_on_the_timeline(w):
    student = await new_student(w)
    events = [admitted(w, student, grade=8), completed(student, at=later(60), grade="92.5"),
              completed(student, at=later(61), outcome="fail")]
    await deliver(w, *events, *events)
    found = await _timeline(w, "staff", student)
    assert [(e["kind"], e["summary"]) for e in found[1:]] == [
        ("courses.course.completed", "课程结业（92.5 分）"), ("courses.course.completed", "课程结业撤销（成绩更正）")]
