"""Lectures by scientists and engineers: staff schedule them; students take their places up to the
capacity (the one over is refused and nothing stored), cancel before the start to free a place;
attendance after the start by staff or the speaker-mentor; every list scoped; an exit frees the
student's places; every change on the record."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from services.mentoring.db import chain, directory
from services.mentoring.events import consumers, lecture_places
from services.mentoring.lectures import service as lectures
from services.mentoring.lectures.models import Lecture, LectureRegistration
from services.mentoring.mentors import service as mentors
from shared import clock
from shared.directory.store import apply
from shared.events.contracts.identity import PersonRecord
from tests.matrix.world import admitted_envelope
from tests.mentoring.support import call, register_mentor
from tests.mentoring.test_needs import exited_envelope
from tests.selection.support import problem


async def _patch(w, who: str, path: str, body: dict[str, Any], if_match: str | None = None):
    headers = {**w.caller(who).headers, **({"If-Match": if_match} if if_match else {})}
    return await w.clients["mentoring"].patch(path, json=body, headers=headers)


def _body(starts: datetime, **extra: Any) -> dict[str, Any]:
    return {"title": "从数论到密码学", "abstract": "素数如何保护我们的每一次网上支付。", "speaker_name": "陈研究员",
            "organisation": "中国科学院数学与系统科学研究院", "disciplines": ["math"], "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(), "place": "泉州五中 科学楼报告厅", "capacity": 2, **extra}


async def _lecture(w, starts: datetime | None = None, **extra: Any) -> dict[str, Any]:
    r = await call(w, "staff", "POST", "/lectures", json=_body(starts or clock.now() + timedelta(days=7), **extra))
    assert r.status_code == 201, r.text
    return r.json()


async def _student(w, school: str = "school_a", *, admitted: bool = True) -> str:
    """A new student in the directory (admitted in math unless told)."""
    student = uuid.uuid4()
    s = w.tx.session
    await apply(s, directory.tables, [PersonRecord(version=10**9, person_id=student, roles=["student"], display_name="学生",
                                                   school_id=uuid.UUID(w.ids[school]), grade=8)])
    if admitted:
        await mentors.on_admitted(s, admitted_envelope(str(student), w.ids[school], "math"))
    await s.flush()
    return str(student)


async def _register(w, who: str, lecture_id: str, student: str | None = None):
    return await call(w, who, "POST", f"/lectures/{lecture_id}/registrations", json={} if student is None else {"student_id": student})


async def _held(w, lecture_id: str) -> list[LectureRegistration]:
    rows = await w.tx.session.execute(sa.select(LectureRegistration).where(LectureRegistration.lecture_id == uuid.UUID(lecture_id))
                                      .order_by(LectureRegistration.registered_at).execution_options(populate_existing=True))
    return list(rows.scalars())


async def _kinds(w, table, row_id: str) -> list[str]:
    return [e.kind for e in await chain.entries(w.tx.session, table=table, row_id=uuid.UUID(row_id))]


async def test_places_are_taken_up_to_the_capacity_the_one_over_is_refused_a_cancellation_frees_one_then_attendance(w):
    with clock.use_clock(clock.FrozenClock()) as moved:
        lecture = await _lecture(w, speaker_id=w.ids["mentor"])
        assert (lecture["taken"], lecture["places_left"], lecture["status"]) == (0, 2, "scheduled")
        mine = await _register(w, "student", lecture["id"])
        assert mine.status_code == 201, mine.text
        assert mine.json()["status"] == "registered" and mine.json()["student_id"] == w.ids["student"]
        again = await _register(w, "student", lecture["id"])
        assert again.status_code == 200 and again.json()["id"] == mine.json()["id"]
        other = await _register(w, "staff", lecture["id"], w.ids["other_student"])
        assert other.status_code == 201, other.text
        # Full: the child's place is refused and nothing of it stored.
        full = problem(await _register(w, "guardian", lecture["id"], w.ids["child"]), 409, "mentoring_lecture_full")
        assert "2 places" in full["detail"]
        assert [r.student_id for r in await _held(w, lecture["id"])] == [uuid.UUID(w.ids["student"]), uuid.UUID(w.ids["other_student"])]
        got = (await call(w, "student", "GET", f"/lectures/{lecture['id']}")).json()
        assert (got["taken"], got["places_left"]) == (2, 0)
        # The student cancels: the place is free, and the child takes it.
        cancelled = await call(w, "student", "POST", f"/lectures/{lecture['id']}/registrations/{mine.json()['id']}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled" and cancelled.json()["cancel_reason"] == "withdrawn"
        repeated = await call(w, "student", "POST", f"/lectures/{lecture['id']}/registrations/{mine.json()['id']}/cancel")
        assert repeated.status_code == 200 and repeated.json()["cancelled_at"] == cancelled.json()["cancelled_at"]
        child = await _register(w, "guardian", lecture["id"], w.ids["child"])
        assert child.status_code == 201, child.text
        problem(await _register(w, "student", lecture["id"]), 409, "mentoring_lecture_full")
        # Attendance waits for the start.
        path = f"/lectures/{lecture['id']}/registrations/{child.json()['id']}/attendance"
        problem(await call(w, "staff", "PUT", path, json={"attendance": "attended"}), 409, "mentoring_lecture_not_started")
        moved.advance(days=7, minutes=5)
        problem(await call(w, "guardian", "POST", f"/lectures/{lecture['id']}/registrations/{child.json()['id']}/cancel"),
                409, "mentoring_lecture_started")
        marked = await call(w, "mentor", "PUT", path, json={"attendance": "attended"})
        assert marked.status_code == 200 and marked.json()["status"] == "attended", marked.text
        corrected = await call(w, "staff", "PUT", path, json={"attendance": "absent"})
        assert corrected.json()["status"] == "absent"
        problem(await call(w, "staff", "PUT", f"/lectures/{lecture['id']}/registrations/{mine.json()['id']}/attendance",
                           json={"attendance": "attended"}), 409, "mentoring_registration_cancelled")
        # After the start nobody registers, though a place is held by an absent student only.
        problem(await _register(w, "staff", lecture["id"], await _student(w)), 409, "mentoring_lecture_started")
        assert await _kinds(w, LectureRegistration.__table__, child.json()["id"]) == [
            "lecture_registration.registered", "lecture_registration.attended", "lecture_registration.absent"]
        assert await _kinds(w, LectureRegistration.__table__, mine.json()["id"]) == [
            "lecture_registration.registered", "lecture_registration.cancelled"]
        assert await _kinds(w, Lecture.__table__, lecture["id"]) == ["lecture.created"]


async def test_a_lecture_is_changed_only_with_the_etag_read_and_never_below_its_places_taken(w):
    lecture = await _lecture(w)
    path = f"/lectures/{lecture['id']}"
    read = await call(w, "student", "GET", path)
    etag = read.headers["ETag"]
    problem(await _patch(w, "staff", path, {"capacity": 5}), 428, "precondition_required")
    changed = await _patch(w, "staff", path, {"capacity": 5, "place": "泉州五中 图书馆"}, etag)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["capacity"], changed.json()["place"]) == (5, "泉州五中 图书馆") and changed.headers["ETag"] != etag
    problem(await _patch(w, "staff", path, {"capacity": 6}, etag), 412, "precondition_failed")
    now = changed.headers["ETag"]
    for who in ("student", "other_student"):
        assert (await _register(w, "staff", lecture["id"], w.ids[who])).status_code == 201
    problem(await _patch(w, "staff", path, {"capacity": 1}, now), 409, "mentoring_lecture_capacity_below_taken")
    ends = datetime.fromisoformat(lecture["starts_at"]) - timedelta(minutes=1)
    problem(await _patch(w, "staff", path, {"ends_at": ends.isoformat()}, now), 422, "mentoring_lecture_invalid")
    problem(await _patch(w, "staff", path, {"title": None}, now), 422, "mentoring_lecture_invalid")
    problem(await _patch(w, "staff", path, {"speaker_id": str(uuid.uuid4())}, now), 404,
            "mentoring_mentor_not_found")
    problem(await _patch(w, "staff", f"/lectures/{uuid.uuid4()}", {"capacity": 3}, "*"), 404,
            "mentoring_lecture_not_found")
    # Nothing of the refused changes was kept.
    got = await call(w, "staff", "GET", path)
    assert (got.json()["capacity"], got.json()["ends_at"], got.json()["title"], got.headers["ETag"]) == (
        5, changed.json()["ends_at"], lecture["title"], now)
    assert await _kinds(w, Lecture.__table__, lecture["id"]) == ["lecture.created", "lecture.changed"]
    problem(await _patch(w, "student", path, {"capacity": 9}, now), 403, "forbidden")


async def test_a_lecture_that_does_not_hold_is_refused_and_nothing_is_stored(w):
    starts = clock.now() + timedelta(days=3)
    title = f"讲座 {uuid.uuid4().hex[:8]}"
    bad = [
        ({"ends_at": (starts - timedelta(hours=1)).isoformat()}, 422, "mentoring_lecture_invalid"),
        ({"ends_at": starts.isoformat()}, 422, "mentoring_lecture_invalid"),
        ({"disciplines": ["math", "math"]}, 422, "mentoring_lecture_invalid"),
        ({"speaker_id": str(uuid.uuid4())}, 404, "mentoring_mentor_not_found"),
        ({"starts_at": "2027-03-06T09:00:00"}, 422, "validation_failed"),  # no time zone
        ({"capacity": 0}, 422, "validation_failed"),
        ({"capacity": -3}, 422, "validation_failed"),
        ({"capacity": 10**12}, 422, "validation_failed"),
        ({"capacity": "40"}, 422, "validation_failed"),
        ({"disciplines": []}, 422, "validation_failed"),
        ({"disciplines": ["alchemy"]}, 422, "validation_failed"),
        ({"place": "  "}, 422, "validation_failed"),
        ({"abstract": "x" * 4001}, 422, "validation_failed"),
        ({"speaker_name": "陈\u0000研究员"}, 422, "validation_failed"),
        ({"organisation": "研究院", "unknown": 1}, 422, "validation_failed"),
    ]
    for extra, status, code in bad:
        r = await call(w, "staff", "POST", "/lectures", json=_body(starts, title=title, **extra))
        assert (r.status_code, r.json().get("code")) == (status, code), (extra, r.text)
    stored = await w.tx.session.execute(sa.select(sa.func.count()).select_from(Lecture).where(Lecture.title == title))
    assert stored.scalar_one() == 0
    problem(await call(w, "student", "POST", "/lectures", json=_body(starts)), 403, "forbidden")


async def test_who_may_register_whom_and_for_what_lecture(w):
    lecture = await _lecture(w, capacity=10)
    lid = lecture["id"]
    problem(await _register(w, "student", str(uuid.uuid4())), 404, "mentoring_lecture_not_found")
    # Someone else's student: the student for another, a guardian for a child not theirs.
    problem(await _register(w, "student", lid, w.ids["child"]), 404, "student_not_found")
    problem(await _register(w, "guardian", lid, w.ids["student"]), 404, "student_not_found")
    problem(await _register(w, "guardian", lid), 422, "mentoring_registration_student_required")
    problem(await _register(w, "staff", lid), 422, "mentoring_registration_student_required")
    problem(await _register(w, "coordinator", lid, w.ids["student"]), 403, "forbidden")
    # Only students of the programme: not admitted, not a student at all, unknown.
    problem(await _register(w, "staff", lid, await _student(w, admitted=False)), 422, "mentoring_not_in_programme")
    problem(await _register(w, "staff", lid, w.ids["coordinator"]), 422, "mentoring_not_in_programme")
    problem(await _register(w, "staff", lid, str(uuid.uuid4())), 422, "mentoring_not_in_programme")
    exited = await _student(w)
    await lectures.on_exited(w.tx.session, exited_envelope(exited))
    await mentors.on_exited(w.tx.session, exited_envelope(exited))
    problem(await _register(w, "staff", lid, exited), 422, "mentoring_not_in_programme")
    r = await call(w, "staff", "POST", f"/lectures/{lid}/registrations", json={"student_id": "not-a-uuid"})
    assert r.status_code == 422
    assert await _held(w, lid) == []
    # A registration of another lecture, or someone else's, is not found.
    child = (await _register(w, "guardian", lid, w.ids["child"])).json()
    other = await _lecture(w)
    problem(await call(w, "guardian", "POST", f"/lectures/{other['id']}/registrations/{child['id']}/cancel"), 404, "mentoring_registration_not_found")
    problem(await call(w, "student", "POST", f"/lectures/{lid}/registrations/{child['id']}/cancel"), 404, "mentoring_registration_not_found")
    problem(await call(w, "student", "POST", f"/lectures/{lid}/registrations/{uuid.uuid4()}/cancel"), 404, "mentoring_registration_not_found")
    assert [r.status.value for r in await _held(w, lid)] == ["registered"]


async def test_no_registration_for_a_past_lecture_or_a_cancelled_one_and_cancelling_ends_its_registrations(w):
    with clock.use_clock(clock.FrozenClock()) as moved:
        past = await _lecture(w, clock.now() - timedelta(hours=1))
        problem(await _register(w, "student", past["id"]), 409, "mentoring_lecture_started")
        problem(await call(w, "staff", "POST", f"/lectures/{past['id']}/cancel", json={"reason": "Too late to cancel."}), 409,
                "mentoring_lecture_started")
        lecture = await _lecture(w)
        mine = (await _register(w, "student", lecture["id"])).json()
        problem(await call(w, "staff", "POST", f"/lectures/{lecture['id']}/cancel", json={"reason": "x"}), 422, "validation_failed")
        r = await call(w, "staff", "POST", f"/lectures/{lecture['id']}/cancel", json={"reason": "The speaker is ill; a new date will follow."})
        assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["taken"] == 0, r.text
        [held] = await _held(w, lecture["id"])
        assert (held.status.value, held.cancel_reason) == ("cancelled", "the lecture was cancelled")
        problem(await _register(w, "student", lecture["id"]), 409, "mentoring_lecture_cancelled")
        problem(await call(w, "staff", "POST", f"/lectures/{lecture['id']}/cancel", json={"reason": "Once more."}), 409, "mentoring_lecture_cancelled")
        problem(await _patch(w, "staff", f"/lectures/{lecture['id']}", {"capacity": 9}, "*"), 409,
                "mentoring_lecture_cancelled")
        moved.advance(days=8)
        problem(await call(w, "staff", "PUT", f"/lectures/{lecture['id']}/registrations/{mine['id']}/attendance", json={"attendance": "absent"}),
                409, "mentoring_lecture_cancelled")
        assert await _kinds(w, Lecture.__table__, lecture["id"]) == ["lecture.created", "lecture.cancelled"]
        assert await _kinds(w, LectureRegistration.__table__, mine["id"]) == ["lecture_registration.registered", "lecture_registration.cancelled"]


async def test_attendance_is_the_speakers_or_staffs_and_registrations_are_scoped(w):
    other_mentor = await register_mentor(w)
    path = f"/lectures/{w.ids['lecture_past']}/registrations/{w.ids['lecture_reg_past']}/attendance"
    for who in ("student", "coordinator", "guardian"):
        problem(await call(w, who, "PUT", path, json={"attendance": "attended"}), 403, "forbidden")
    problem(await call(w, "staff", "PUT", path, json={"attendance": "late"}), 422, "validation_failed")
    # A lecture the mentor does not give: neither its roll nor its marks are theirs.
    lecture = await _lecture(w, clock.now() - timedelta(hours=1), speaker_id=other_mentor)
    assert (await call(w, "mentor", "GET", f"/lectures/{lecture['id']}/registrations")).json()["items"] == []
    problem(await call(w, "mentor", "PUT", f"/lectures/{lecture['id']}/registrations/{w.ids['lecture_reg_past']}/attendance",
                       json={"attendance": "attended"}), 404, "mentoring_lecture_not_found")
    problem(await call(w, "staff", "PUT", f"/lectures/{lecture['id']}/registrations/{w.ids['lecture_reg_past']}/attendance",
                       json={"attendance": "attended"}), 404, "mentoring_registration_not_found")
    # The world's lecture: each reader sees their rows only.
    seen = {}
    for who in ("student", "guardian", "coordinator", "mentor", "staff"):
        r = await call(w, who, "GET", f"/lectures/{w.ids['lecture']}/registrations", params={"limit": 200})
        seen[who] = {x["student_id"] for x in r.json()["items"]}
    ids = w.ids
    assert seen == {"student": {ids["student"]}, "guardian": {ids["child"]}, "coordinator": {ids["student"], ids["child"]},
                    "mentor": {ids["student"], ids["child"], ids["other_student"]},
                    "staff": {ids["student"], ids["child"], ids["other_student"]}}
    r = await call(w, "guardian", "GET", "/lecture-registrations", params={"student_id": ids["student"]})
    assert r.json()["items"] == []
    r = await call(w, "student", "GET", "/lecture-registrations", params={"status": "registered"})
    assert [x["id"] for x in r.json()["items"]] == [ids["lecture_reg_student"], ids["lecture_reg_past"]]  # newest first
    problem(await call(w, "student", "GET", f"/lectures/{uuid.uuid4()}/registrations"), 404, "mentoring_lecture_not_found")


async def test_lectures_are_listed_soonest_first_by_discipline_and_time(w):
    with clock.use_clock(clock.FrozenClock(datetime(2061, 3, 1, tzinfo=UTC))):
        soon = await _lecture(w, clock.now() + timedelta(days=1))
        later = await _lecture(w, clock.now() + timedelta(days=9), disciplines=["physics", "math"])
        ended = await _lecture(w, clock.now() - timedelta(days=1))
        chemistry = await _lecture(w, clock.now() + timedelta(days=2), disciplines=["chemistry"])

        async def listed(**query) -> list[str]:
            r = await call(w, "partner", "GET", "/lectures", params={"limit": 200, **query})
            assert r.status_code == 200, r.text
            mine = {soon["id"], later["id"], ended["id"], chemistry["id"]}
            return [x["id"] for x in r.json()["items"] if x["id"] in mine]

        assert await listed() == [soon["id"], chemistry["id"], later["id"]]
        assert await listed(discipline="math") == [soon["id"], later["id"]]
        assert await listed(**{"from": "2061-02-27T00:00:00+00:00", "to": "2061-03-03T00:00:01Z"}) == [ended["id"], soon["id"], chemistry["id"]]
        problem(await call(w, "student", "GET", "/lectures", params={"from": "2061-02-27T00:00:00"}), 422, "mentoring_time_zone_required")
        problem(await call(w, "student", "GET", "/lectures", params={"to": "0.5"}), 422, "validation_failed")
        problem(await call(w, "service", "GET", "/lectures"), 403, "forbidden")


async def test_an_exit_cancels_the_students_places_at_lectures_after_it_once_and_late_too(w):
    s = w.tx.session
    with clock.use_clock(clock.FrozenClock()) as moved:
        student = await _student(w)
        past = await _lecture(w, clock.now() + timedelta(hours=1))
        upcoming = await _lecture(w, clock.now() + timedelta(days=5))
        held_past = (await _register(w, "staff", past["id"], student)).json()
        held = (await _register(w, "staff", upcoming["id"], student)).json()
        moved.advance(hours=2)
        marked = await call(w, "staff", "PUT", f"/lectures/{past['id']}/registrations/{held_past['id']}/attendance", json={"attendance": "attended"})
        assert marked.status_code == 200
        exit_at = clock.now()
        moved.advance(days=1)  # the exit arrives a day late, after the student re-entered and registered again
        await mentors.on_admitted(s, admitted_envelope(student, w.ids["school_a"], "physics"))
        later = await _lecture(w, clock.now() + timedelta(days=6))
        again = (await _register(w, "staff", later["id"], student)).json()
        event = exited_envelope(student, exit_at)
        # Its own consumer, beside the pools' (which ends the mentorships).
        assert lecture_places.handlers == {"tracking.student.exited": lectures.on_exited} and lecture_places in consumers
        for _ in range(2):
            await lectures.on_exited(s, event)
        states = {r.id: (r.status.value, r.cancel_reason) for r in (await s.execute(sa.select(LectureRegistration).where(
            LectureRegistration.student_id == uuid.UUID(student)).execution_options(populate_existing=True))).scalars()}
        await s.flush()
        assert states == {uuid.UUID(held_past["id"]): ("attended", None), uuid.UUID(held["id"]): ("cancelled", "the student left the programme"),
                          uuid.UUID(again["id"]): ("registered", None)}
        assert await _kinds(w, LectureRegistration.__table__, held["id"]) == ["lecture_registration.registered", "lecture_registration.cancelled"]
        assert (await call(w, "staff", "GET", f"/lectures/{upcoming['id']}")).json()["taken"] == 0
